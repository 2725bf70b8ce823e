"""Units of measure: our free-text unit labels to UN/ECE Recommendation 20 codes and back."""

from __future__ import annotations

__all__ = ["unit_code", "unit_label"]

ONE = "C62"

_CODES = {
    "h": "HUR",
    "hr": "HUR",
    "hrs": "HUR",
    "hour": "HUR",
    "hours": "HUR",
    "min": "MIN",
    "minute": "MIN",
    "minutes": "MIN",
    "day": "DAY",
    "days": "DAY",
    "week": "WEE",
    "weeks": "WEE",
    "month": "MON",
    "months": "MON",
    "year": "ANN",
    "years": "ANN",
    "kg": "KGM",
    "g": "GRM",
    "t": "TNE",
    "m": "MTR",
    "km": "KMT",
    "m2": "MTK",
    "m3": "MTQ",
    "l": "LTR",
    "litre": "LTR",
    "liter": "LTR",
    "kwh": "KWH",
    "pc": "H87",
    "pcs": "H87",
    "piece": "H87",
    "pieces": "H87",
    "set": "SET",
    "lump sum": "LS",
}
_LABELS = {
    "HUR": "hour",
    "MIN": "minute",
    "DAY": "day",
    "WEE": "week",
    "MON": "month",
    "ANN": "year",
    "KGM": "kg",
    "GRM": "g",
    "TNE": "t",
    "MTR": "m",
    "KMT": "km",
    "MTK": "m2",
    "MTQ": "m3",
    "LTR": "l",
    "KWH": "kWh",
    "H87": "pcs",
    "SET": "set",
    "LS": "lump sum",
}


def unit_code(label: str) -> str:
    """The Rec 20 code for a unit as people type it; "one" (C62) for anything unknown."""
    return _CODES.get(label.strip().lower(), ONE)


def unit_label(code: str) -> str:
    """Our label for a Rec 20 code; empty for "one" and for codes we do not name."""
    return _LABELS.get(code.strip().upper(), "")
