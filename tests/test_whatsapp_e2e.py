"""End to end: the real pywa client and webhook server against a local fake Graph API.

Nothing inside the process is mocked and no handler is called directly: updates go in as signed
HTTP POSTs to the real FastAPI webhook served by uvicorn, replies come out as Graph API calls the
fake records. The knowledge base and the SQLite file are real; time is a `ManualClock` (ahead of
the real clock, so no APScheduler job fires by itself).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bot import replies
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase
from bot.markup import from_spans, to_whatsapp
from bot.models import BroadcastStatus, Channel, ChatRef, DeliveryStatus
from tests.fake_graph_api import (
    VERIFY_TOKEN,
    FakeGraphApi,
    rate_limited,
    re_engagement,
    undeliverable,
)
from tests.telegram_harness import ManualClock
from tests.whatsapp_harness import WhatsAppHarness, running_whatsapp, whatsapp_settings

USER = "6281234567890"
OTHER = "6281298765432"
ADMIN = "6289999999999"
START = dt.datetime(2031, 3, 2, 1, 0, tzinfo=dt.UTC)  # after the real clock: nothing fires
FOTO_QUESTION = "boleh gak pns foto bareng paslon?"
REMINDER = "⏰ Besok masa tenang dimulai.\nTetap netral, rekan ASN!"


@pytest.fixture
def graph() -> Iterator[FakeGraphApi]:
    """The fake Graph API on a free loopback port."""
    with FakeGraphApi() as api:
        yield api


@pytest.fixture
async def wa(graph: FakeGraphApi, kb: KnowledgeBase, dialogue: Dialogue,
             tmp_path: Path) -> AsyncIterator[WhatsAppHarness]:
    """The running WhatsApp channel with one admin, a fast pace and a fresh SQLite file."""
    settings = whatsapp_settings(graph, tmp_path / "wa.sqlite3",
                                 whatsapp_admin_numbers=frozenset({ADMIN}), whatsapp_rate=80.0)
    async with running_whatsapp(graph, kb, settings, ManualClock(START), dialogue) as harness:
        yield harness


async def press(wa: WhatsAppHarness, to: str, message: object, data: str,
                row: bool = False) -> object:
    """Press a reply button (or pick a list row) under a bot message; return the last reply."""
    since = wa.graph.mark()
    title = dict(message.choices())[data]  # type: ignore[attr-defined]
    build = wa.webhook.row if row else wa.webhook.button
    response = await wa.post(build(to, data, title, message.message_id))  # type: ignore[attr-defined]
    assert response.status_code == 200
    await wa.reply(to, since)
    await wa.settled(to)
    return wa.graph.sent(to, since)[-1]


# -- the webhook's security -----------------------------------------------------------------------
async def test_the_verification_handshake_needs_the_verify_token(wa: WhatsAppHarness) -> None:
    async with httpx.AsyncClient() as client:
        ok = await client.get(wa.url, params={"hub.mode": "subscribe", "hub.challenge": "8675309",
                                              "hub.verify_token": VERIFY_TOKEN})
        wrong = await client.get(wa.url, params={"hub.mode": "subscribe", "hub.challenge": "1",
                                                 "hub.verify_token": "guess"})
    assert (ok.status_code, ok.text) == (200, "8675309")
    assert wrong.status_code == 403 and "1" not in wrong.text


async def test_unsigned_or_wrongly_signed_posts_are_refused_and_not_processed(
        wa: WhatsAppHarness) -> None:
    unsigned = await wa.post(wa.webhook.text(USER, FOTO_QUESTION), signed=False)
    forged = await wa.post(wa.webhook.text(USER, FOTO_QUESTION), secret="not-the-app-secret")
    assert unsigned.status_code == 422 and forged.status_code == 403
    await asyncio.sleep(0.3)
    assert wa.graph.requests() == []
    assert wa.services.store.totals() == {}


async def test_a_duplicate_delivery_is_processed_once(wa: WhatsAppHarness) -> None:
    update = wa.webhook.text(USER, FOTO_QUESTION, message_id="wamid.dup1")
    since = wa.graph.mark()
    assert (await wa.post(update)).status_code == 200
    await wa.reply(USER, since)
    await wa.settled(USER)
    first = len(wa.graph.sent(USER, since))
    update["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "1"  # other bytes
    assert (await wa.post(update)).status_code == 200
    await asyncio.sleep(0.3)
    assert len(wa.graph.sent(USER, since)) == first
    assert wa.services.store.totals()["questions"] == 1


# -- conversation ---------------------------------------------------------------------------------
async def test_a_question_is_answered_verdict_first_with_a_list_and_feedback(
        wa: WhatsAppHarness) -> None:
    since = wa.graph.mark()
    last = await wa.ask(USER, FOTO_QUESTION)
    messages = wa.graph.sent(USER, since)
    assert messages[0].text.startswith("*⛔ DILARANG")  # the short answer, in WhatsApp bold
    assert replies.BASIS_PREFIX not in messages[0].text
    ids = [data for data, _ in last.choices()]
    assert "up:foto_bersama_calon" in ids and "down:foto_bersama_calon" in ids
    assert all(len(title) <= 24 for _, title in last.choices())
    assert all(len(m.text) <= 4096 for m in messages)
    thanks = await press(wa, USER, last, "down:foto_bersama_calon",
                         row=last.interactive_type == "list")
    assert thanks.text == replies.TG_FEEDBACK_NOTED
    rows = list(wa.services.store.db["feedback"].rows)
    assert [(r["channel"], r["chat_id"], r["useful"]) for r in rows] == [("whatsapp", USER, 0)]
    assert wa.services.store.recent_misses()[0]["text"] == FOTO_QUESTION


async def test_topics_come_as_lists_and_a_row_opens_its_questions(wa: WhatsAppHarness) -> None:
    since = wa.graph.mark()
    await wa.ask(USER, "topik")
    lists = [m for m in wa.graph.sent(USER, since) if m.interactive_type == "list"]
    rows = [data for m in lists for data, _ in m.choices()]
    visible = [t for t in wa.services.kb.topics.values() if not t.hidden]
    assert rows == [f"topic:{t.id}" for t in visible]
    assert all(len(m.choices()) <= 10 for m in lists)
    topic = next(t for t in visible if wa.services.kb.intents_in_topic(t.id))
    holder = next(m for m in lists if f"topic:{topic.id}" in dict(m.choices()))
    questions = await press(wa, USER, holder, f"topic:{topic.id}", row=True)
    first = questions.choices()[0][0]
    assert first.startswith("answer:")
    answer = await press(wa, USER, questions, first, row=questions.interactive_type == "list")
    assert wa.graph.sent(USER)[-2 if answer.type == "interactive" else -1].text


async def test_pledge_with_a_reply_button_and_commands_in_words(wa: WhatsAppHarness) -> None:
    offer = await wa.ask(USER, "Ikrar")
    assert offer.interactive_type == "button" and offer.choices() == [
        ("pledge:", replies.TG_PLEDGE_BUTTON)]
    recorded = await press(wa, USER, offer, "pledge:")
    assert recorded.text.startswith("✅ Terima kasih! Ikrar netralitas Anda tercatat")
    assert (await wa.ask(USER, "bantuan")).text == replies.WA_HELP
    since = wa.graph.mark()
    await wa.ask(USER, "/tentang")  # long: in parts
    assert wa.graph.sent(USER, since)[0].text.startswith("ℹ️ Tentang Tanya Netral")
    delete = await wa.ask(USER, "hapus data")
    assert [d for d, _ in delete.choices()] == ["delete_yes:", "delete_no:"]
    assert (await press(wa, USER, delete, "delete_yes:")).text == replies.TG_DELETED
    assert wa.services.store.chat(ChatRef.whatsapp(USER)) is None


async def test_an_answer_longer_than_an_interactive_body_comes_as_text_then_choices(
        wa: WhatsAppHarness) -> None:
    dialogue = wa.services.dialogue
    long_answer = next(i for i in wa.services.kb.intents.values()
                       if len(dialogue.reply_for(i).text) > 1024 and dialogue.reply_for(i).buttons)
    since = wa.graph.mark()  # "Selengkapnya" under its short answer: the whole answer
    await wa.post(wa.webhook.button(USER, f"more:{long_answer.id}", "?", "wamid.old"))
    await wa.reply(USER, since)
    await wa.settled(USER)
    parts = wa.graph.sent(USER, since)
    assert [p.type for p in parts] == ["text", "interactive"]
    whole = dialogue.more(long_answer.id)
    assert parts[0].text == to_whatsapp(from_spans(whole.text, whole.bold))
    assert parts[0].text.startswith("*") and "*📚 Sumber:*" in parts[0].text
    assert parts[1].text == replies.WA_CHOOSE_PROMPT


async def test_a_sticker_gets_a_polite_request_for_text(wa: WhatsAppHarness) -> None:
    since = wa.graph.mark()
    await wa.post(wa.webhook.sticker(USER))
    assert (await wa.reply(USER, since)).text == replies.WA_NON_TEXT


# -- reminders and broadcasts ---------------------------------------------------------------------
async def subscribe(wa: WhatsAppHarness, to: str) -> None:
    """Subscribe with `langganan` and the "Seluruh Indonesia" row."""
    since = wa.graph.mark()
    await wa.ask(to, "langganan")
    lists = [m for m in wa.graph.sent(to, since) if m.interactive_type == "list"]
    assert sum(len(m.choices()) for m in lists) == len(wa.services.regions()) + 1
    done = await press(wa, to, lists[-1], "region:all", row=True)
    assert "Langganan aktif" in done.text


async def broadcast(wa: WhatsAppHarness, text: str = REMINDER) -> int:
    """Schedule a broadcast for now as the WhatsApp admin would, and let it run."""
    clock = wa.services.clock
    created = wa.services.store.create_broadcast(text, clock(), None, ChatRef.whatsapp(ADMIN),
                                                 clock())
    assert wa.services.scheduler is not None
    wa.services.scheduler.sync(clock())
    await wa.services.scheduler.idle()
    return created.id


async def test_reminders_go_as_text_inside_the_window_and_as_template_outside(
        wa: WhatsAppHarness) -> None:
    await subscribe(wa, USER)
    await subscribe(wa, OTHER)
    wa.services.clock.advance(hours=20)  # type: ignore[attr-defined]
    await wa.ask(OTHER, "jadwal")  # OTHER wrote again: their window is open
    wa.services.clock.advance(hours=5)  # type: ignore[attr-defined]
    since = wa.graph.mark()
    bid = await broadcast(wa)
    to_user = wa.graph.sent(USER, since)
    to_other = wa.graph.sent(OTHER, since)
    assert [(m.type, m.template) for m in to_user] == [("template", "pengingat_netralitas")]
    assert to_user[0].text == " ".join(REMINDER.split())  # one line, as templates need
    copy = replies.broadcast_copy(REMINDER, Channel.WHATSAPP, wa.services.settings.broadcast_sender)
    assert [(m.type, m.text) for m in to_other] == [("text", copy)]  # header, text, stop line
    assert wa.services.store.broadcast_status(bid) is BroadcastStatus.DONE
    assert wa.services.store.delivery_counts(bid).sent == 2


async def test_stop_opts_out_at_once(wa: WhatsAppHarness) -> None:
    await subscribe(wa, USER)
    assert (await wa.ask(USER, "STOP")).text == replies.TG_UNSUBSCRIBED
    since = wa.graph.mark()
    bid = await broadcast(wa)
    assert wa.graph.sent(USER, since) == []
    assert wa.services.store.delivery_counts(bid).total == 0


async def test_re_engagement_required_falls_back_to_the_template(wa: WhatsAppHarness) -> None:
    await subscribe(wa, USER)
    wa.graph.fail(re_engagement(), to=USER, types={"text"})  # our record says: window open
    since = wa.graph.mark()
    bid = await broadcast(wa)
    attempts = [(r.type, r.status) for r in wa.graph.requests(since) if r.to == USER]
    assert attempts == [("text", 400), ("template", 200)]
    assert wa.services.store.delivery_counts(bid).sent == 1


async def test_rate_limit_backs_off_and_unreachable_users_are_marked(wa: WhatsAppHarness) -> None:
    await subscribe(wa, USER)
    await subscribe(wa, OTHER)
    wa.graph.fail(rate_limited(), to=USER, times=1)
    wa.graph.fail(undeliverable(), to=OTHER, times=None)
    since = wa.graph.mark()
    bid = await broadcast(wa)
    assert [r.status for r in wa.graph.requests(since) if r.to == USER] == [400, 200]
    assert [r.status for r in wa.graph.requests(since) if r.to == OTHER] == [400]  # never again
    rows = {r["chat_id"]: r for r in wa.services.store.deliveries(bid)}
    assert rows[USER]["status"] == DeliveryStatus.SENT
    assert rows[OTHER]["status"] == DeliveryStatus.BLOCKED and "131026" in rows[OTHER]["last_error"]
    assert wa.services.store.chat(ChatRef.whatsapp(OTHER)).blocked


async def test_status_webhooks_update_the_delivery_rows(wa: WhatsAppHarness) -> None:
    await subscribe(wa, USER)
    await subscribe(wa, OTHER)
    bid = await broadcast(wa)
    rows = {r["chat_id"]: r for r in wa.services.store.deliveries(bid)}
    for status in ("delivered", "read", "delivered"):  # a late "delivered" changes nothing
        assert (await wa.post(wa.webhook.status(USER, rows[USER]["message_id"], status))
                ).status_code == 200
    await wa.post(wa.webhook.status(OTHER, rows[OTHER]["message_id"], "failed", undeliverable()))
    await asyncio.sleep(0.3)
    rows = {r["chat_id"]: r for r in wa.services.store.deliveries(bid)}
    assert rows[USER]["receipt"] == "read" and rows[USER]["status"] == DeliveryStatus.SENT
    assert rows[OTHER]["receipt"] == "failed" and rows[OTHER]["status"] == DeliveryStatus.BLOCKED
    assert wa.services.store.chat(ChatRef.whatsapp(OTHER)).blocked


async def test_a_whatsapp_admin_schedules_with_a_preview_and_gets_the_report(
        wa: WhatsAppHarness) -> None:
    await subscribe(wa, USER)
    preview = await wa.ask(ADMIN, "/siaran sekarang\nIngat, tetap netral.")
    ok = preview.choices()[0][0]
    assert ok.startswith("admin_ok:")
    since = wa.graph.mark()
    await press(wa, ADMIN, preview, ok)
    await wa.reply(ADMIN, since, contains="mulai dikirim")
    await wa.services.scheduler.idle()  # type: ignore[union-attr]
    report = await wa.reply(ADMIN, 0, contains="Siaran #1: selesai")
    assert "terkirim 1" in report.text
    assert (await wa.ask(USER, "/statistik")).text == replies.ADMIN_REFUSED


async def test_a_reminder_refused_later_with_131047_goes_again_as_the_template(
        wa: WhatsAppHarness) -> None:
    await subscribe(wa, USER)  # the user just wrote: the reminder goes as text
    since = wa.graph.mark()
    bid = await broadcast(wa)
    [text] = wa.graph.sent(USER, since)
    assert text.type == "text"
    mark = wa.graph.mark()
    await wa.post(wa.webhook.status(USER, text.message_id, "failed", re_engagement()))
    template = await wa.reply(USER, mark)
    assert (template.type, template.text) == ("template", " ".join(REMINDER.split()))
    await asyncio.sleep(0.2)
    [row] = wa.services.store.deliveries(bid)
    assert (row["status"], row["message_id"]) == (DeliveryStatus.SENT, template.message_id)
    assert wa.services.store.chat(ChatRef.whatsapp(USER)).last_inbound_at is None
