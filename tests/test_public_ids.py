"""Public ids are ULIDs: opaque, sortable by time, and never the same across processes."""

import re
from concurrent.futures import ProcessPoolExecutor

from portal.models.base import new_public_id

ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


def _many(n: int) -> list[str]:
    return [new_public_id() for _ in range(n)]


def test_public_ids_are_ulids():
    assert all(ULID.fullmatch(new_public_id()) for _ in range(100))


def test_four_processes_never_make_the_same_id():
    with ProcessPoolExecutor(max_workers=4) as pool:
        batches = list(pool.map(_many, [20_000] * 4))
    ids = [i for batch in batches for i in batch]
    assert len(set(ids)) == len(ids) == 80_000
