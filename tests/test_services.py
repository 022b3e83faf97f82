"""The channel-independent use cases in `Services`, on the real knowledge base and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import replies
from bot.config import Settings
from bot.dialogue import Context, Dialogue
from bot.knowledge import KnowledgeBase
from bot.models import Action, ActionKind, Channel, ChatRef, ReplyKind
from bot.services import ALL_REGIONS, Services, build_services
from bot.throttle import Decision
from bot.timetable import format_date
from tests.telegram_harness import ManualClock

CHAT = ChatRef.telegram(42)


@pytest.fixture
def services(kb: KnowledgeBase, dialogue: Dialogue, tmp_path: Path) -> Iterator[Services]:
    settings = Settings(db_path=tmp_path / "s.sqlite3", flood_limit_per_minute=2)
    built = build_services(settings, kb, clock=ManualClock(), dialogue=dialogue)
    yield built
    built.store.close()


def test_ask_counts_and_logs_only_true_misses(services: Services) -> None:
    answer = services.ask("boleh gak pns foto bareng paslon?", Context())
    miss = services.ask("qwerty zxcvb plugh", Context())
    assert (answer.kind, miss.kind) == (ReplyKind.ANSWER, ReplyKind.FALLBACK)
    assert services.store.totals() == {"questions": 2, "answers": 1, "fallbacks": 1}
    assert [m["text"] for m in services.store.recent_misses()] == ["qwerty zxcvb plugh"]


def test_pledge_is_recorded_once_with_its_local_time(services: Services) -> None:
    first = services.pledge(CHAT).text
    services.clock.advance(days=1)  # type: ignore[attr-defined]
    second = services.pledge(CHAT).text
    assert first == replies.TG_PLEDGE_RECORDED.format(
        when="20 September 2024 pukul 10.00 WIB")
    assert second == replies.TG_PLEDGE_ALREADY.format(when="20 September 2024 pukul 10.00 WIB")
    assert services.store.pledge_count() == 1


def test_subscribe_to_a_region_all_of_indonesia_or_nothing(services: Services) -> None:
    assert "Jawa Timur" in services.subscribe(CHAT, "jatim").text
    assert services.store.subscribers("jatim") == [CHAT]
    assert replies.TG_ALL_REGIONS_NAME in services.subscribe(CHAT, ALL_REGIONS).text
    assert services.store.chat(CHAT).region is None
    assert services.subscribe(CHAT, "atlantis").text == replies.TG_UNKNOWN_REGION
    assert len(services.regions()) == 38


def test_strangers_leave_no_trace(services: Services) -> None:
    assert services.unsubscribe(CHAT).text == replies.TG_NOT_SUBSCRIBED
    services.membership_changed(CHAT, active=False)
    assert services.store.chat(CHAT) is None


def test_block_and_unblock_a_subscriber(services: Services) -> None:
    services.subscribe(CHAT, "dki")
    services.membership_changed(CHAT, active=False)
    assert services.store.subscribers() == []
    services.membership_changed(CHAT, active=True)
    assert services.store.subscribers() == [CHAT]


def test_thumbs_down_logs_the_question(services: Services) -> None:
    up = Action(ActionKind.FEEDBACK_UP, "pose_jari")
    down = Action(ActionKind.FEEDBACK_DOWN, "pose_jari")
    assert services.press(CHAT, up, "pose 2 jari?", "7").text == (
        replies.TG_FEEDBACK_THANKS)
    assert services.store.recent_misses() == []
    assert services.press(CHAT, down, "pose 2 jari?", "7").text == (
        replies.TG_FEEDBACK_NOTED)
    assert services.store.db["feedback"].count == 1  # the second vote replaced the first
    assert services.store.recent_misses()[0]["text"] == "pose 2 jari?"


def test_fixed_replies(services: Services) -> None:
    kb = services.dialogue.kb
    assert services.report_reply().intent == "cara_lapor"
    assert services.schedule_reply().text
    latest = max(i.reviewed for i in kb.intents.values() if i.reviewed)
    about = services.about().text
    assert format_date(latest) in about and f"({len(kb.sources)})" in about


def test_flood_guard_uses_the_services_clock(services: Services) -> None:
    assert [services.check_flood(CHAT) for _ in range(3)] == [
        Decision.ALLOW, Decision.ALLOW, Decision.WARN]
    services.clock.advance(seconds=61)  # type: ignore[attr-defined]
    assert services.check_flood(CHAT) is Decision.ALLOW


def test_every_button_action_has_a_reply(services: Services) -> None:
    kb = services.dialogue.kb
    intent, topic = next(iter(kb.intents)), next(t for t in kb.topics.values() if not t.hidden)
    assert services.press(CHAT, Action(ActionKind.ANSWER, intent)).intent == intent
    assert services.press(CHAT, Action(ActionKind.TOPIC, topic.id)).buttons
    assert services.press(CHAT, Action(ActionKind.NONE_OF_THESE), "apa ya").kind is (
        ReplyKind.FALLBACK)
    assert services.store.recent_misses()[0]["kind"] == "none_of_these"
    region = services.subscription_offer().buttons[0].action
    assert "Aceh" in services.press(CHAT, region).text
    assert services.press(CHAT, Action(ActionKind.PLEDGE)).text.startswith("✅")
    assert services.press(CHAT, Action(ActionKind.DELETE_NO)).text == replies.TG_DELETE_CANCELLED
    assert services.press(CHAT, Action(ActionKind.DELETE_YES)).text == replies.TG_DELETED
    assert services.store.chat(CHAT) is None
    stale = services.press(CHAT, Action(ActionKind.ADMIN_CONFIRM, "1"))
    assert stale.text == replies.ADMIN_REFUSED  # not an admin


def test_the_core_builds_the_scheduler_only_for_delivering_channels(
        kb: KnowledgeBase, dialogue: Dialogue, tmp_path: Path) -> None:
    from tests.broadcast_fakes import FakeSender, FakeTime

    settings = Settings(db_path=tmp_path / "b.sqlite3")
    console = build_services(settings, kb, dialogue=dialogue)
    assert console.scheduler is None and console.admin.on_change is None
    console.close()
    built = build_services(settings, kb, senders={Channel.TELEGRAM: FakeSender(FakeTime())},
                           dialogue=dialogue)
    try:
        assert built.scheduler is not None
        assert built.admin.on_change == built.scheduler.sync
    finally:
        built.close()
