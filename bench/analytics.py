"""Analytics benchmark on public data: late-payment risk, revenue forecast, cohort retention.

What is measured (the data sets and protocols are described in ``../shared/data/README.md``):

1. Risk, on the IBM accounts-receivable invoices. Train on invoices issued before 2013-07-01,
   test on the rest. Every feature uses only the client's invoices paid before the scored
   invoice's issue date (the "online" variant); the priors use invoices paid before the cut-off.
   ``Disputed`` of the scored invoice and its days to settle are never features. The model is
   ``LatePaymentModel``; the baseline is the client's smoothed past late rate. Prints
   ``risk_auc``, ``risk_auc_baseline``, ``risk_brier``, ``risk_brier_baseline`` (target: AUC at
   least 0.05 above the baseline, Brier below it). Before that it prints how the feature sets
   compared on time-based validation *inside* the training period (train on invoices issued
   before 2012-10-01, 2013-01-01 and 2013-04-01, score the three months after each; the means
   of the three folds): that comparison, never the test split, chose the model's features.
2. Forecast, on the four monthly series (US retail, auscafe, souvenirs, Superstore monthly
   Sales). The last 6 months are held out; the model sees only the months before. MASE uses the
   training part's mean |y_t - y_{t-12}|; each series' model MASE is divided by the
   seasonal-naive MASE on the same holdout, and the ratios are averaged:
   ``forecast_mase_ratio`` (target 0.85 or less).
3. Cohorts, on UCI Online Retail (the largest transaction set), filtered as the README says:
   the active-client counts must equal ``reference_cohort_counts.csv`` cell for cell (the run
   fails otherwise); ``cohort_seconds`` is the time of ``active_counts`` + ``retention``.

Run from the project root: ``python bench/analytics.py [--data ../shared/data]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.cohorts import active_counts, retention  # noqa: E402
from analytics.forecast import seasonal_forecast  # noqa: E402
from analytics.risk import (  # noqa: E402
    CANDIDATES,
    FEATURES,
    LatePaymentModel,
    RiskPriors,
    baseline_score,
    is_late,
    risk_features,
)
from analytics.too_little import TooLittleData  # noqa: E402

CUTOFF = pd.Timestamp("2013-07-01")
VALIDATION_FOLDS = (
    pd.Timestamp("2012-10-01"),
    pd.Timestamp("2013-01-01"),
    pd.Timestamp("2013-04-01"),
)
VALIDATION_MONTHS = 3
# The features of the model before issue 10, for comparison.
EARLIER_FEATURES = (
    "past_late_rate",
    "past_invoices_log",
    "mean_days_to_pay",
    "mean_days_late",
    "past_dispute_rate",
    "past_electronic_share",
    "electronic",
    "amount_log",
    "amount_relative",
    "terms_days",
    "open_invoices",
)
HOLDOUT = 6
SEASON = 12


def ar_invoices(data: Path) -> pd.DataFrame:
    raw = pd.read_csv(
        data / "ibm_accounts_receivable" / "WA_Fn-UseC_-Accounts-Receivable.csv",
        dtype={"invoiceNumber": str, "customerID": str, "countryCode": str},
    )
    dates = {
        c: pd.to_datetime(raw[c], format="%m/%d/%Y")
        for c in ("InvoiceDate", "DueDate", "SettledDate")
    }
    return pd.DataFrame(
        {
            "client_id": raw["customerID"],
            "issue_date": dates["InvoiceDate"],
            "due_date": dates["DueDate"],
            "amount_minor": (raw["InvoiceAmount"] * 100).round().astype("int64"),
            "paid_date": dates["SettledDate"],
            "disputed": raw["Disputed"] == "Yes",
            "electronic": raw["PaperlessBill"] == "Electronic",
        }
    )


def _scores(
    invoices: pd.DataFrame, cutoff: pd.Timestamp, scored: np.ndarray, features: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train on invoices issued before ``cutoff`` (priors from those paid before it); the
    ``scored`` rows' labels, the model's scores and the baseline's."""
    train = (invoices["issue_date"] < cutoff).to_numpy()
    priors = RiskPriors.from_history(invoices[train], before=cutoff.date())
    table = risk_features(invoices, priors)
    late = is_late(invoices).to_numpy()
    model = LatePaymentModel(features=features).fit(table[train], late[train])
    return late[scored], model.predict_proba(table[scored])[:, 1], baseline_score(table[scored])


def _metrics(late: np.ndarray, score: np.ndarray, base: np.ndarray) -> dict[str, float]:
    return {
        "risk_auc": float(roc_auc_score(late, score)),
        "risk_auc_baseline": float(roc_auc_score(late, base)),
        "risk_brier": float(brier_score_loss(late, score)),
        "risk_brier_baseline": float(brier_score_loss(late, base)),
    }


def _fit_and_score(
    invoices: pd.DataFrame, cutoff: pd.Timestamp, scored: np.ndarray, features: tuple[str, ...]
) -> dict[str, float]:
    return _metrics(*_scores(invoices, cutoff, scored, features))


def auc_gain_interval(
    late: np.ndarray, score: np.ndarray, base: np.ndarray, rounds: int = 2000
) -> tuple[float, float]:
    """A 95 % interval of the AUC gain over the baseline, resampling the test invoices: how
    much of a difference the test set can tell apart from chance."""
    rng = np.random.default_rng(0)
    gains = []
    for _ in range(rounds):
        pick = rng.integers(0, len(late), len(late))
        if late[pick].min() == late[pick].max():
            continue
        gains.append(roc_auc_score(late[pick], score[pick]) - roc_auc_score(late[pick], base[pick]))
    low, high = np.percentile(gains, [2.5, 97.5])
    return float(low), float(high)


def validate_risk(invoices: pd.DataFrame) -> None:
    """Feature sets compared inside the training period only (the means over the folds)."""
    candidates = {
        "expected_late (the model)": FEATURES,
        "expected_late + past_late_rate": ("expected_late", "past_late_rate"),
        "all candidates": CANDIDATES,
        "the earlier model's features": EARLIER_FEATURES,
    }
    for name, features in candidates.items():
        folds = []
        for cutoff in VALIDATION_FOLDS:
            end = cutoff + pd.DateOffset(months=VALIDATION_MONTHS)
            issued = invoices["issue_date"]
            scored = ((issued >= cutoff) & (issued < end)).to_numpy()
            folds.append(_fit_and_score(invoices, cutoff, scored, features))
        mean = {key: float(np.mean([f[key] for f in folds])) for key in folds[0]}
        print(
            f"  validation, {name}: AUC {mean['risk_auc']:.4f} (baseline "
            f"{mean['risk_auc_baseline']:.4f}), Brier {mean['risk_brier']:.4f} (baseline "
            f"{mean['risk_brier_baseline']:.4f})"
        )


def bench_risk(data: Path) -> dict[str, float]:
    invoices = ar_invoices(data)
    validate_risk(invoices)
    test = (invoices["issue_date"] >= CUTOFF).to_numpy()
    late, score, base = _scores(invoices, CUTOFF, test, FEATURES)
    low, high = auc_gain_interval(late, score, base)
    print(f"risk_auc_gain_ci95: {low:+.4f} {high:+.4f} (test invoices resampled)")
    return _metrics(late, score, base)


def monthly_series(data: Path) -> dict[str, pd.Series]:
    retail = pd.read_csv(data / "us_retail_sales" / "example_retail_sales.csv", parse_dates=["ds"])
    cafe = pd.read_csv(data / "fpp_series" / "auscafe_monthly.csv", parse_dates=["month"])
    souvenirs = pd.read_csv(data / "fpp_series" / "souvenirs_monthly.csv", parse_dates=["month"])
    store = pd.read_csv(data / "superstore" / "superstore.csv", parse_dates=["Order Date"])
    sales = store.groupby(store["Order Date"].dt.to_period("M"))["Sales"].sum()
    return {
        "us_retail": retail.set_index("ds")["y"].astype("float64"),
        "auscafe": cafe.set_index("month")["expenditure_aud_billion"],
        "souvenirs": souvenirs.set_index("month")["sales"],
        "superstore": pd.Series(sales.to_numpy(), index=sales.index.to_timestamp()),
    }


def bench_forecast(data: Path) -> float:
    ratios = []
    for name, series in monthly_series(data).items():
        train, actual = series.iloc[:-HOLDOUT], series.to_numpy()[-HOLDOUT:]
        history = train.to_numpy()
        scale = float(np.mean(np.abs(history[SEASON:] - history[:-SEASON])))
        naive = history[len(history) - SEASON : len(history) - SEASON + HOLDOUT]
        result = seasonal_forecast(train, horizon=HOLDOUT)
        if isinstance(result, TooLittleData):
            raise SystemExit(f"{name}: {result.message}")
        model_mase = float(np.mean(np.abs(actual - result.frame["point"].to_numpy()))) / scale
        naive_mase = float(np.mean(np.abs(actual - naive))) / scale
        ratios.append(model_mase / naive_mase)
        print(
            f"  {name}: {result.model.describe()}; MASE {model_mase:.3f} vs seasonal-naive "
            f"{naive_mase:.3f} (ratio {model_mase / naive_mase:.3f})"
        )
    return float(np.mean(ratios))


def bench_cohorts(data: Path) -> float:
    folder = data / "uci_online_retail"
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
    transactions = pd.DataFrame({"client_id": kept["CustomerID"], "date": kept["InvoiceDate"]})
    start = time.perf_counter()
    counts = active_counts(transactions)
    retention(counts)
    seconds = time.perf_counter() - start

    reference = pd.read_csv(folder / "reference_cohort_counts.csv").set_index("cohort_month")
    mine = counts.astype("float64")
    mine.index = mine.index.astype(str)
    mine.columns = [f"m{k}" for k in mine.columns]
    if list(mine.index) != list(reference.index) or list(mine.columns) != list(reference.columns):
        raise SystemExit(f"cohort table shape differs: {mine.shape} vs {reference.shape}")
    same = (mine.to_numpy() == reference.to_numpy()) | (mine.isna() & reference.isna()).to_numpy()
    if not same.all():
        raise SystemExit(f"cohort counts differ from the reference in {int((~same).sum())} cells")
    print(f"  cohort counts equal the reference: {int(reference.notna().sum().sum())} cells")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    data = parser.parse_args().data
    if not data.exists():
        raise SystemExit(f"no data folder at {data}")

    risk = bench_risk(data)
    for name, value in risk.items():
        print(f"{name}: {value:.4f}")
    ratio = bench_forecast(data)
    print(f"forecast_mase_ratio: {ratio:.3f}")
    seconds = bench_cohorts(data)
    print(f"cohort_seconds: {seconds:.3f}")

    auc_ok = risk["risk_auc"] >= risk["risk_auc_baseline"] + 0.05
    brier_ok = risk["risk_brier"] < risk["risk_brier_baseline"]
    print(
        f"summary: risk AUC +{risk['risk_auc'] - risk['risk_auc_baseline']:.3f} over baseline "
        f"(target +0.050: {'met' if auc_ok else 'NOT met'}); Brier "
        f"{'below' if brier_ok else 'NOT below'} baseline; forecast ratio "
        f"{'met' if ratio <= 0.85 else 'NOT met'} (target <= 0.85); cohorts match the reference"
    )


if __name__ == "__main__":
    main()
