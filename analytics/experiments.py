"""Payment-page A/B tests: conversion, lift with 95 % intervals, Bayesian chances, a stop rule.

Counts come as a frame with ``variant`` (str), ``visitors`` (int64) and ``conversions`` (int64),
one row per variant. Each variant's conversion rate gets a Beta(1 + conversions, 1 + visitors -
conversions) posterior (a uniform Beta(1, 1) prior).

* ``p_beat_control`` is exact: the closed-form sum for P(B > A) of two Beta variables with
  integer parameters.
* ``p_best`` (chance of being the best of all variants) is a Monte Carlo estimate with a fixed
  seed and 200,000 draws, so repeated calls give identical figures.
* The absolute lift interval is the normal (Wald) interval of the difference of two rates; the
  relative lift interval is the delta-method interval of the log of the rate ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betaln
from scipy.stats import norm

__all__ = [
    "Decision",
    "ExperimentResult",
    "VariantResult",
    "analyse_experiment",
    "p_beat",
]

DRAWS = 200_000
_Z = float(norm.ppf(0.975))


@dataclass(frozen=True, slots=True)
class VariantResult:
    name: str
    visitors: int
    conversions: int
    rate: float
    lift: float  # absolute, rate - control rate
    lift_low: float
    lift_high: float
    relative_lift: float | None  # rate / control rate - 1; None when the control has no conversion
    relative_low: float | None
    relative_high: float | None
    p_beat_control: float
    p_best: float


@dataclass(frozen=True, slots=True)
class Decision:
    stop: bool
    winner: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    control: str
    variants: tuple[VariantResult, ...]  # the control first
    decision: Decision


def p_beat(conv_a: int, n_a: int, conv_b: int, n_b: int) -> float:
    """P(rate_B > rate_A) under Beta(1, 1) priors, exactly."""
    alpha_a, beta_a = 1 + conv_a, 1 + n_a - conv_a
    alpha_b, beta_b = 1 + conv_b, 1 + n_b - conv_b
    i = np.arange(alpha_b, dtype=np.float64)
    terms = (
        betaln(alpha_a + i, beta_a + beta_b)
        - np.log(beta_b + i)
        - betaln(1 + i, beta_b)
        - betaln(alpha_a, beta_a)
    )
    return float(min(1.0, max(0.0, np.exp(terms).sum())))


def _p_best(counts: pd.DataFrame) -> np.ndarray:
    rng = np.random.default_rng(0)
    conversions = counts["conversions"].to_numpy(dtype=np.int64)
    visitors = counts["visitors"].to_numpy(dtype=np.int64)
    draws = rng.beta(1 + conversions, 1 + visitors - conversions, size=(DRAWS, len(counts)))
    wins = np.bincount(draws.argmax(axis=1), minlength=len(counts))
    return np.asarray(wins / DRAWS)


def _relative(
    conv: int, n: int, conv_c: int, n_c: int
) -> tuple[float | None, float | None, float | None]:
    if conv_c == 0 or n == 0 or n_c == 0:
        return None, None, None
    ratio = (conv / n) / (conv_c / n_c)
    if conv == 0:
        return ratio - 1, None, None
    se = math.sqrt((1 - conv / n) / conv + (1 - conv_c / n_c) / conv_c)
    return ratio - 1, ratio * math.exp(-_Z * se) - 1, ratio * math.exp(_Z * se) - 1


def _decide(
    results: tuple[VariantResult, ...],
    control: str,
    min_visitors: int,
    max_visitors: int,
    threshold: float,
) -> Decision:
    fewest = min(r.visitors for r in results)
    best = max(results, key=lambda r: r.p_best)
    if fewest < min_visitors:
        return Decision(
            stop=False,
            winner=None,
            message=f"Keep running: every variant needs at least {min_visitors} visitors "
            f"(the smallest has {fewest}).",
        )
    if best.p_best >= threshold:
        what = "The control stays" if best.name == control else f"Use {best.name}"
        return Decision(
            stop=True,
            winner=best.name,
            message=f"Stop: {best.name} converts best with {best.p_best:.1%} probability. {what}.",
        )
    if fewest >= max_visitors:
        return Decision(
            stop=True,
            winner=None,
            message=f"Stop: no clear winner after {max_visitors} visitors per variant; "
            "keep the control.",
        )
    return Decision(
        stop=False,
        winner=None,
        message=f"Keep running: no variant is yet {threshold:.0%} likely to be the best "
        f"(leading: {best.name}, {best.p_best:.1%}).",
    )


def analyse_experiment(
    counts: pd.DataFrame,
    control: str,
    min_visitors: int = 100,
    max_visitors: int = 10_000,
    threshold: float = 0.95,
) -> ExperimentResult:
    """Figures per variant and the stop decision.

    Stop when some variant (the control included) is the best with probability >= ``threshold``
    (so a challenger whose chance is <= 1 - threshold in a two-way test loses), once every
    variant has ``min_visitors``; or stop without a winner once every variant has
    ``max_visitors``.
    """
    counts = counts.reset_index(drop=True)
    if control not in set(counts["variant"]):
        raise ValueError(f"no variant named {control!r}")
    order = [control] + [v for v in counts["variant"] if v != control]
    counts = counts.set_index("variant").loc[order].reset_index()
    best = _p_best(counts)
    c = counts.iloc[0]
    conv_c, n_c = int(c["conversions"]), int(c["visitors"])
    rate_c = conv_c / n_c if n_c else 0.0
    results = []
    for k, (name, n, conv) in enumerate(
        zip(counts["variant"], counts["visitors"], counts["conversions"], strict=True)
    ):
        conv, n = int(conv), int(n)
        rate = conv / n if n else 0.0
        # The control against itself: no lift and no spread.
        se = (
            0.0
            if k == 0
            else math.sqrt(rate * (1 - rate) / max(n, 1) + rate_c * (1 - rate_c) / max(n_c, 1))
        )
        rel, rel_low, rel_high = (0.0, 0.0, 0.0) if k == 0 else _relative(conv, n, conv_c, n_c)
        results.append(
            VariantResult(
                name=str(name),
                visitors=n,
                conversions=conv,
                rate=rate,
                lift=rate - rate_c,
                lift_low=rate - rate_c - _Z * se,
                lift_high=rate - rate_c + _Z * se,
                relative_lift=rel,
                relative_low=rel_low,
                relative_high=rel_high,
                p_beat_control=0.5 if k == 0 else p_beat(conv_c, n_c, conv, n),
                p_best=float(best[k]),
            )
        )
    frozen = tuple(results)
    return ExperimentResult(
        control=control,
        variants=frozen,
        decision=_decide(frozen, control, min_visitors, max_visitors, threshold),
    )
