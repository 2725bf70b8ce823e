"""Jobs reach a real Redis and a real RQ worker process, or run inline without Redis."""

import os
import subprocess
import sys

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job

from portal.jobs import enqueue
from portal.jobs.audit import verify_audit_chains
from tests.conftest import redis_test_url

pytestmark = pytest.mark.redis

REDIS_URL = redis_test_url("TEST_REDIS_URL", 11)


@pytest.fixture
def redis_url(app, monkeypatch):
    connection = Redis.from_url(REDIS_URL)
    connection.flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    yield REDIS_URL
    connection.flushdb()


def test_without_redis_the_job_runs_inline(team, db):
    done = enqueue(verify_audit_chains, job_id="verify-audit-inline")
    assert done.inline_result == {"chains": 1, "events": 1, "ok": True}


@pytest.mark.parametrize("fork", [[], ["--no-fork"]], ids=["forking", "no-fork"])
def test_a_worker_process_runs_the_queued_job(team, db, redis_url, database_url, app, fork):
    queued = enqueue(verify_audit_chains, job_id="verify-audit-test")
    assert queued.inline_result is None
    assert Queue("default", connection=Redis.from_url(redis_url)).count == 1

    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "INVOICE_LITE_SECRET_KEY": app.config["SECRET_KEY"],
        "INVOICE_LITE_ARGON2_PROFILE": "CHEAPEST",
    }
    result = subprocess.run(
        [sys.executable, "-m", "portal.cli", "worker", "--burst", "--queue", "default", *fork],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    job = Job.fetch("verify-audit-test", connection=Redis.from_url(redis_url))
    assert job.get_status() == "finished"
    assert job.return_value() == {"chains": 1, "events": 1, "ok": True}


def test_the_worker_refuses_to_start_without_redis(app, db):
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 2
    assert "REDIS_URL is not set: without Redis, jobs run inline." in result.output
