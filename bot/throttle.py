"""Per-user flood guard: too many messages in a minute earns one polite warning and a pause.

Transport-free and clock-free: every call passes `now` (an aware datetime), so tests drive the
guard with an injected clock instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from enum import StrEnum

SWEEP_EVERY = 1000  # calls between sweeps of idle users, so memory stays bounded


class Decision(StrEnum):
    """What to do with one incoming message."""

    ALLOW = "allow"  # handle it normally
    WARN = "warn"    # the user just went over the limit: send the slow-down note once
    DROP = "drop"    # cooling down: ignore silently


@dataclass(slots=True)
class _UserState:
    stamps: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class Throttle:
    """Allow at most `limit` messages per user in a sliding `window`, then pause for `cooldown`.

    Args:
        limit: Messages allowed per window; the next one triggers the warning.
        window: Length of the sliding window.
        cooldown: How long a user is ignored after the warning.
    """

    def __init__(self, limit: int, window: dt.timedelta = dt.timedelta(seconds=60),
                 cooldown: dt.timedelta = dt.timedelta(seconds=60)) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window.total_seconds()
        self.cooldown = cooldown.total_seconds()
        self._users: dict[Hashable, _UserState] = {}
        self._calls = 0

    def check(self, user_id: Hashable, now: dt.datetime) -> Decision:
        """Count one message from `user_id` at `now` and decide whether to handle it."""
        moment = now.timestamp()
        self._calls += 1
        if self._calls % SWEEP_EVERY == 0:
            self._sweep(moment)
        state = self._users.setdefault(user_id, _UserState())
        if moment < state.blocked_until:
            return Decision.DROP
        stamps = state.stamps
        while stamps and stamps[0] <= moment - self.window:
            stamps.popleft()
        if len(stamps) >= self.limit:
            stamps.clear()
            state.blocked_until = moment + self.cooldown
            return Decision.WARN
        stamps.append(moment)
        return Decision.ALLOW

    def tracked_users(self) -> int:
        """Number of users currently held in memory (for tests and monitoring)."""
        return len(self._users)

    def _sweep(self, moment: float) -> None:
        idle = [uid for uid, s in self._users.items()
                if moment >= s.blocked_until
                and (not s.stamps or s.stamps[-1] <= moment - self.window)]
        for uid in idle:
            del self._users[uid]
