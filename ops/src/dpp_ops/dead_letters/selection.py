"""Which dead letters an operator means: by event type, error class and time window."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dpp_ops.dead_letters.letter import DeadLetter
from dpp_shared import headers as hdr


@dataclass(frozen=True, slots=True)
class LetterFilter:
    """Every given criterion must match; patterns are fnmatch-style (``persona.*``)."""

    event_types: tuple[str, ...] = ()
    error_types: tuple[str, ...] = ()
    since: datetime | None = None
    """Dead-lettered at or after this time (the record's timestamp on the dead-letter topic)."""
    until: datetime | None = None
    """Dead-lettered before this time."""

    def matches(self, letter: DeadLetter) -> bool:
        if self.event_types and not _any(letter.event_type, self.event_types):
            return False
        if self.error_types and not _any(letter.header(hdr.ERROR_TYPE), self.error_types):
            return False
        if self.since is None and self.until is None:
            return True
        if letter.timestamp is None:
            return False
        at = datetime.fromtimestamp(letter.timestamp, UTC)
        if self.since is not None and at < self.since:
            return False
        return not (self.until is not None and at >= self.until)

    def select(self, letters: Iterable[DeadLetter]) -> list[DeadLetter]:
        return [letter for letter in letters if self.matches(letter)]

    @property
    def empty(self) -> bool:
        return not (self.event_types or self.error_types or self.since or self.until)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_types": list(self.event_types),
            "error_types": list(self.error_types),
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC if no zone is given), or an age like ``30m``, ``2h``, ``7d``."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    stripped = text.strip()
    if stripped[-1:] in units and stripped[:-1].isdigit():
        age = timedelta(seconds=int(stripped[:-1]) * units[stripped[-1]])
        return (now or datetime.now(UTC)) - age
    parsed = datetime.fromisoformat(stripped)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _any(value: str | None, patterns: Sequence[str]) -> bool:
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)
