"""Checks on the shared public data sets; skipped where that folder is not present."""

from pathlib import Path

import pandas as pd
import pytest

from analytics.cohorts import active_counts, retention
from tests.shared_dir import SHARED

DATA = SHARED / "data"

pytestmark = pytest.mark.skipif(
    not DATA.exists(), reason=f"public data sets not present at {DATA} (see bench/analytics.py)"
)


def _same(counts: pd.DataFrame, reference_csv: Path) -> None:
    reference = pd.read_csv(reference_csv).set_index("cohort_month")
    mine = counts.astype("float64")
    mine.index = mine.index.astype(str)
    mine.columns = [f"m{k}" for k in mine.columns]
    pd.testing.assert_frame_equal(mine, reference.astype("float64"), check_names=False)


def test_online_retail_cohorts_equal_the_reference() -> None:
    folder = DATA / "uci_online_retail"
    rows = pd.read_csv(
        folder / "online_retail.csv.gz",
        dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "Int64"},
        parse_dates=["InvoiceDate"],
    )
    kept = rows[
        rows["CustomerID"].notna()
        & ~rows["InvoiceNo"].str.startswith("C")
        & (rows["Quantity"] > 0)
        & (rows["UnitPrice"] > 0)
    ]
    counts = active_counts(
        pd.DataFrame({"client_id": kept["CustomerID"], "date": kept["InvoiceDate"]})
    )
    _same(counts, folder / "reference_cohort_counts.csv")
    assert round(float(retention(counts).iloc[0, 1]) * 100, 2) == 36.61


def test_cdnow_cohorts_equal_the_reference() -> None:
    folder = DATA / "cdnow"
    rows = pd.read_csv(
        folder / "cdnow_master.csv", dtype={"customer_id": str}, parse_dates=["date"]
    )
    counts = active_counts(pd.DataFrame({"client_id": rows["customer_id"], "date": rows["date"]}))
    _same(counts, folder / "reference_cohort_counts.csv")
