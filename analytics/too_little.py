"""The plain result every analysis returns when its input is too short to say anything."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TooLittleData"]


@dataclass(frozen=True, slots=True)
class TooLittleData:
    """Not enough history: ``message`` is shown to the user instead of a chart."""

    message: str
    have: int
    need: int
