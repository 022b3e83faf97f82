"""The flood guard, driven by an injected clock (no sleeping)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.throttle import SWEEP_EVERY, Decision, Throttle

T0 = dt.datetime(2024, 9, 20, 3, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_allows_up_to_the_limit_then_warns_once_then_drops() -> None:
    guard = Throttle(limit=3)
    decisions = [guard.check(1, at(i)) for i in range(6)]
    assert decisions == [Decision.ALLOW] * 3 + [Decision.WARN, Decision.DROP, Decision.DROP]


def test_cooldown_ends_and_the_user_starts_afresh() -> None:
    guard = Throttle(limit=2, cooldown=dt.timedelta(seconds=60))
    for i in range(3):
        guard.check(1, at(i))
    assert guard.check(1, at(61)) is Decision.DROP    # 59 s after the warning
    assert guard.check(1, at(62)) is Decision.ALLOW   # the pause is over
    assert guard.check(1, at(63)) is Decision.ALLOW
    assert guard.check(1, at(64)) is Decision.WARN    # over the limit again


def test_the_window_slides() -> None:
    guard = Throttle(limit=3)
    assert [guard.check(1, at(t)) for t in (0, 20, 40)] == [Decision.ALLOW] * 3
    assert guard.check(1, at(60)) is Decision.ALLOW   # the message at 0 s has left the window
    assert guard.check(1, at(61)) is Decision.WARN


def test_other_users_are_unaffected() -> None:
    guard = Throttle(limit=1)
    assert guard.check(1, at(0)) is Decision.ALLOW
    assert guard.check(1, at(1)) is Decision.WARN
    assert guard.check(2, at(1)) is Decision.ALLOW
    assert guard.check(3, at(2)) is Decision.ALLOW


def test_idle_users_are_forgotten() -> None:
    guard = Throttle(limit=5)
    for uid in range(SWEEP_EVERY - 1):
        guard.check(uid, at(0))
    assert guard.tracked_users() == SWEEP_EVERY - 1
    guard.check(-1, at(3600))  # this call triggers the sweep
    assert guard.tracked_users() == 1


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        Throttle(limit=0)
