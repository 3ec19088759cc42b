"""The service's notion of "now": the system clock, or a replay clock for demos and tests.

``citynav serve --clock 2019-10-15T08:00:00-07:00`` runs the service as if it were that
instant (time then moves on normally), so historical feeds are judged fresh and "now"
queries use it. Everything that asks for the current time goes through a :class:`Clock`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(t: datetime) -> int:
    """Unix milliseconds of an aware instant, floored (exact integer arithmetic)."""
    return (t - _EPOCH) // timedelta(milliseconds=1)


class Clock:
    """The system clock (UTC, aware)."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        return datetime.now(UTC)

    def now_ms(self) -> int:
        """The current instant in Unix milliseconds."""
        return epoch_ms(self.now())


class ReplayClock(Clock):
    """A clock that starts at ``start`` and runs at normal speed (``frozen``: stands still)."""

    def __init__(self, start: datetime, frozen: bool = False) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("the replay clock needs an aware start time (with an offset)")
        self._start = start.astimezone(UTC)
        self._t0 = time.monotonic()
        self.frozen = frozen

    def now(self) -> datetime:
        """The replayed instant."""
        if self.frozen:
            return self._start
        return self._start + timedelta(seconds=time.monotonic() - self._t0)

    def set(self, t: datetime) -> None:
        """Jump to ``t`` (aware)."""
        if t.tzinfo is None:
            raise ValueError("aware datetime required")
        self._start = t.astimezone(UTC)
        self._t0 = time.monotonic()


SYSTEM_CLOCK = Clock()
