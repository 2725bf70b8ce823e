import re

import numpy as np
import pandas as pd
import pytest

from analytics.experiments import analyse_experiment, p_beat


def _counts(*rows: tuple[str, int, int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["variant", "visitors", "conversions"])


def test_p_beat_known_cases() -> None:
    assert p_beat(0, 0, 0, 0) == pytest.approx(0.5)
    # Beta(2, 1) against Beta(1, 2): integral of 2x (1 - (1 - x)^2) over [0, 1] = 5/6.
    assert p_beat(0, 1, 1, 1) == pytest.approx(5 / 6)
    assert p_beat(20, 100, 10, 100) == pytest.approx(1 - p_beat(10, 100, 20, 100))


def test_p_beat_agrees_with_sampling() -> None:
    rng = np.random.default_rng(5)
    a = rng.beta(101, 901, 400_000)
    b = rng.beta(121, 881, 400_000)
    assert p_beat(100, 1000, 120, 1000) == pytest.approx(float((b > a).mean()), abs=0.003)


def test_lift_and_intervals_by_hand() -> None:
    result = analyse_experiment(_counts(("A", 1000, 100), ("B", 1000, 140)), control="A")
    control, b = result.variants
    assert (control.name, control.lift, control.lift_low, control.lift_high) == ("A", 0, 0, 0)
    assert b.rate == pytest.approx(0.14)
    assert b.lift == pytest.approx(0.04)
    # se = sqrt(.1 * .9 / 1000 + .14 * .86 / 1000) = 0.0145052
    assert (b.lift_low, b.lift_high) == (
        pytest.approx(0.011570, abs=1e-6),
        pytest.approx(0.068430, abs=1e-6),
    )
    # log-ratio se = sqrt(.9 / 100 + .86 / 140) = 0.123056
    assert b.relative_lift == pytest.approx(0.4)
    assert (b.relative_low, b.relative_high) == (
        pytest.approx(0.09997, abs=1e-4),
        pytest.approx(0.78188, abs=1e-4),
    )
    assert b.p_beat_control == pytest.approx(p_beat(100, 1000, 140, 1000))
    assert control.p_best + b.p_best == pytest.approx(1)


def test_repeated_calls_agree() -> None:
    counts = _counts(("A", 500, 50), ("B", 500, 58), ("C", 500, 61))
    first = analyse_experiment(counts, control="A")
    assert first == analyse_experiment(counts, control="A")


def test_stop_rule_decisions() -> None:
    early = analyse_experiment(_counts(("A", 50, 5), ("B", 60, 30)), control="A")
    assert not early.decision.stop
    assert early.decision.message == (
        "Keep running: every variant needs at least 100 visitors (the smallest has 50)."
    )

    clear = analyse_experiment(_counts(("A", 1000, 100), ("B", 1000, 140)), control="A")
    assert clear.decision.stop and clear.decision.winner == "B"
    assert clear.decision.message.startswith("Stop: B converts best with 99.")

    losing = analyse_experiment(_counts(("A", 1000, 140), ("B", 1000, 100)), control="A")
    assert losing.decision.stop and losing.decision.winner == "A"
    assert losing.decision.message.endswith("The control stays.")

    undecided = analyse_experiment(_counts(("A", 1000, 100), ("B", 1000, 102)), control="A")
    assert not undecided.decision.stop
    assert undecided.decision.message.startswith("Keep running: no variant is yet 95% likely")

    capped = analyse_experiment(
        _counts(("A", 1000, 100), ("B", 1000, 102)), control="A", max_visitors=1000
    )
    assert capped.decision.stop and capped.decision.winner is None
    assert "no clear winner after 1000 visitors per variant" in capped.decision.message


def test_unknown_control_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("no variant named 'Z'")):
        analyse_experiment(_counts(("A", 10, 1)), control="Z")
