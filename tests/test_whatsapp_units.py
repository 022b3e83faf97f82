"""Pure pieces of the WhatsApp channel: ids of typed actions, message shapes, error mapping."""

from __future__ import annotations

import pytest
from pywa_async.errors import WhatsAppError

from bot import replies
from bot.broadcasts import Outcome
from bot.channels.whatsapp.interactive import (
    MAX_BODY_CHARS,
    MAX_ROW_TITLE,
    MAX_ROWS,
    decode,
    encode,
    render,
)
from bot.channels.whatsapp.sender import _mapped as mapped
from bot.channels.whatsapp.sender import template_parameter
from bot.config import Settings
from bot.dialogue import Dialogue
from bot.knowledge import KnowledgeBase
from bot.models import Action, ActionKind, Channel, Choice, Reply
from bot.services import Services, build_services


def test_every_action_round_trips_through_an_id_within_the_limits(kb: KnowledgeBase) -> None:
    actions = [Action(kind, "x") for kind in ActionKind]
    actions += [Action(ActionKind.ANSWER, i) for i in kb.intents]
    for action in actions:
        assert decode(encode(action)) == action and len(encode(action)) <= 200
    assert decode("rubbish") is None and decode("zz:1") is None


def test_a_long_reply_is_text_parts_then_a_short_interactive(dialogue: Dialogue) -> None:
    reply = Reply.notice("kata " * 2000, Choice("Ya", Action(ActionKind.DELETE_YES)))
    messages = render(reply)
    assert [m.buttons is None for m in messages] == [True, True, True, False]
    assert all(len(m.text) <= 4096 for m in messages)
    assert len(messages[-1].text) <= MAX_BODY_CHARS


def test_few_short_buttons_are_reply_buttons_many_or_long_ones_lists(
        dialogue: Dialogue, tmp_path: object, kb: KnowledgeBase) -> None:
    pledge = render(Reply.notice("ikrar", Choice("✍️ Saya berikrar", Action(ActionKind.PLEDGE))))
    assert isinstance(pledge[-1].buttons, tuple) and len(pledge[-1].buttons) == 1
    menu = render(dialogue.topic_menu())
    rows = [len(list(m.buttons.sections[0].rows)) for m in menu]  # type: ignore[union-attr]
    assert sum(rows) == len(dialogue.topic_menu().buttons) and max(rows) <= MAX_ROWS
    for message in menu:
        for row in message.buttons.sections[0].rows:  # type: ignore[union-attr]
            assert len(row.title) <= MAX_ROW_TITLE


def test_the_38_provinces_come_as_four_lists(kb: KnowledgeBase, dialogue: Dialogue,
                                             tmp_path: object) -> None:
    services: Services = build_services(Settings(db_path=tmp_path / "u.sqlite3"), kb,  # type: ignore[operator]
                                        dialogue=dialogue)
    try:
        lists = render(services.subscription_offer())
    finally:
        services.close()
    assert len(lists) == 4 and lists[0].text.endswith("(1/4)")


def test_template_parameters_are_one_line_and_short() -> None:
    assert template_parameter("Halo\n\nrekan   ASN") == "Halo rekan ASN"
    assert len(template_parameter("a " * 3000)) == 1000
    copy = replies.broadcast_copy("Halo\n\nrekan ASN", Channel.WHATSAPP, "Tanya Netral")
    assert template_parameter(copy) == "Halo rekan ASN"  # the template has its own header


@pytest.mark.parametrize(("code", "status", "outcome"), [
    (130429, 400, Outcome.RETRY_AFTER),
    (131056, 400, Outcome.RETRY_AFTER),  # this user only (the pair rate)
    (131026, 400, Outcome.BLOCKED),
    (131050, 400, Outcome.BLOCKED),
    (131000, 500, Outcome.TRANSIENT),
    (100, 400, Outcome.FAILED),
])
def test_cloud_api_errors_map_to_outcomes(code: int, status: int, outcome: Outcome) -> None:
    import httpx

    response = httpx.Response(status, request=httpx.Request("POST", "http://x"))
    error = WhatsAppError.from_dict({"code": code, "message": "x"}, response=response)
    result = mapped(error)
    assert result is not None and result.outcome is outcome


def test_re_engagement_asks_for_the_template() -> None:
    assert mapped(WhatsAppError.from_dict({"code": 131047, "message": "x"})) is None


