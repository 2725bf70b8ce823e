"""The late-payment risk job: trains, scores open invoices, refuses a model of another version."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sklearn
from sqlalchemy import func, select, update

from analytics import model_store
from portal.extensions import db
from portal.jobs.analytics import KIND, STEPS, retrain_all, train_risk_model
from portal.models import Client, Document, Job, RiskModel, RiskScore
from portal.services import jobs, risk_scores
from tests.analytics_web.data import invoice, long_history
from tests.conftest import Team

TODAY = date(2026, 3, 15)


@pytest.fixture
def history(team: Team) -> list[Document]:
    return long_history(team.actor(), TODAY)


def _train(team: Team) -> Job:
    job = jobs.start_job(team.actor(), KIND, {}, total=STEPS)
    train_risk_model(job.id)
    db.session.expire_all()
    return db.session.get(Job, job.id)  # type: ignore[return-value]


def test_the_job_trains_stores_and_scores_every_open_invoice(
    team: Team, history: list[Document]
) -> None:
    job = _train(team)
    assert (job.status, job.done, job.total, job.error) == ("done", STEPS, STEPS, "")
    stored = risk_scores.latest_model(team.business)
    assert stored is not None
    assert stored.sklearn_version == sklearn.__version__
    assert isinstance(model_store.loads(stored.data), model_store.LatePaymentModel)
    open_ids = set(
        db.session.scalars(
            select(Document.id).where(
                Document.business_id == team.business.id, Document.status.in_(risk_scores.OPEN)
            )
        )
    )
    scores = risk_scores.scores_for(team.business, sorted(open_ids))
    assert set(scores) == open_ids
    assert all(0.0 < p < 1.0 for p in scores.values())
    # Client 3 always pays late, client 0 always early: their open invoices rank that way.
    riskiest = risk_scores.riskiest(team.business, 100)
    assert riskiest[0].client == "Client 3"
    assert riskiest[-1].client in {"Client 0", "Client 1"}
    assert riskiest[0].reasons, "the riskiest invoice names what raises its risk"
    assert {"auc", "auc_baseline", "brier", "brier_baseline"} <= set(stored.metrics)


def test_a_model_of_another_scikit_learn_version_is_refused(
    team: Team, history: list[Document]
) -> None:
    _train(team)
    stored = risk_scores.latest_model(team.business)
    assert stored is not None
    old = stored.data.replace(
        f'"sklearn_version": "{sklearn.__version__}"'.encode(), b'"sklearn_version": "0.1.0"'
    )
    db.session.execute(
        update(RiskModel).where(RiskModel.id == stored.id).values(data=old, sklearn_version="0.1.0")
    )
    db.session.commit()
    state = risk_scores.model_state(team.business)
    assert not state.usable
    assert state.message == risk_scores.RETRAIN_MESSAGE
    with pytest.raises(model_store.ModelVersionError, match=re.escape("fit it again")):
        model_store.loads(old)
    # Its scores are not shown; a retrain brings them back under this version.
    assert risk_scores.riskiest(team.business) == []
    assert risk_scores.businesses_to_retrain(TODAY) == [team.business.id]
    assert retrain_all() == {"trained": 1, "too_little_history": 0}
    assert risk_scores.model_state(team.business).usable
    assert risk_scores.riskiest(team.business)
    assert retrain_all() == {"trained": 0, "too_little_history": 0}


def test_too_little_history_fails_the_job_with_a_plain_message(team: Team) -> None:
    long_history(team.actor(), TODAY, months=2)
    job = _train(team)
    assert job.status == "failed"
    assert job.error.startswith("The risk model needs at least 40 settled or overdue invoices")
    assert db.session.scalar(select(func.count(RiskScore.document_id))) == 0


def _stored_scores() -> int:
    return int(db.session.scalar(select(func.count(RiskScore.document_id))) or 0)


def test_an_invoice_issued_after_training_is_scored_with_the_stored_model(
    team: Team, history: list[Document]
) -> None:
    risk_scores.train_model(team.business, TODAY)
    slow = db.session.scalar(select(Client).where(Client.name == "Client 3"))
    assert slow is not None
    new = invoice(team.actor(), slow.public_id, "900.00", TODAY)
    stored = _stored_scores()

    scores = risk_scores.scores_for(team.business, [new.id, history[0].id])
    assert set(scores) == {new.id}  # the first invoice is paid: it has no score
    assert 0.5 < scores[new.id] < 1.0  # client 3 always pays late
    shown = {r.public_id: r for r in risk_scores.riskiest(team.business, 100)}
    assert shown[new.public_id].probability == scores[new.id]
    assert shown[new.public_id].reasons
    assert _stored_scores() == stored, "showing a score writes nothing"

    # It is the score the next training stores (the new invoice is not due yet: no label).
    risk_scores.train_model(team.business, TODAY)
    again = db.session.scalar(select(RiskScore).where(RiskScore.document_id == new.id))
    assert again is not None
    assert again.probability == pytest.approx(scores[new.id])
    assert [r["feature"] for r in again.reasons] == [
        r["feature"] for r in shown[new.public_id].reasons
    ]
