"""Decide what to reply: answer, clarify, fallback or smalltalk (the answer contract)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from bot import replies
from bot.knowledge import KnowledgeBase
from bot.matcher import Matcher, Scored
from bot.models import (
    MAX_MESSAGE_CHARS,
    Action,
    ActionKind,
    Choice,
    Intent,
    IntentKind,
    Reply,
    ReplyKind,
    Verdict,
)
from bot.timetable import format_date

MAX_INPUT_CHARS = 600          # longer messages are matched on their beginning only
FOLLOW_UP_MAX_TERMS = 4        # "pppk jg?" after a question is read together with that question


@dataclass(frozen=True, slots=True)
class Policy:
    """Decision thresholds, calibrated with `main.py eval --calibrate` (see README)."""

    answer_threshold: float = 0.44     # answer at or above this score …
    margin: float = 0.03               # … when ahead of any differently-judged intent by this
    clarify_threshold: float = 0.28    # below this: honest fallback
    clarify_window: float = 0.12       # intents this close to the top are offered as choices
    lead_margin: float = 0.08          # a lead this large answers even below the threshold
    unsafe_boleh_margin: float = 0.18  # "boleh" must lead any stricter reading by this …
    boleh_extra: float = 0.05          # … and score this much above the answer threshold
    max_choices: int = 3


@dataclass(slots=True)
class Context:
    """Per-chat conversation state a channel keeps between messages."""

    last_text: str | None = None
    last_intent: str | None = None


class Dialogue:
    """The core's single entry point for free text, buttons and menus."""

    def __init__(self, kb: KnowledgeBase, matcher: Matcher | None = None,
                 policy: Policy | None = None) -> None:
        self.kb = kb
        self.matcher = matcher or Matcher(kb)
        self.policy = policy or Policy()

    # -- free text ------------------------------------------------------------------------
    def answer(self, text: str, context: Context | None = None) -> Reply:
        """Answer one user message; update `context` for follow-up questions."""
        text = (text or "").replace("\x00", " ")
        if not text.strip():
            return Reply(kind=ReplyKind.FALLBACK, text=replies.EMPTY_INPUT,
                         buttons=self._topic_buttons())
        truncated = len(text) > MAX_INPUT_CHARS
        terms = self.matcher.query_terms(text[:MAX_INPUT_CHARS])
        ranked = self.matcher.rank_terms(terms)
        if not ranked:
            # Only filler ("mau tanya dong min"), emoji or another script: invite the question.
            return Reply(kind=ReplyKind.SMALLTALK, text=replies.EMPTY_INPUT,
                         buttons=self._topic_buttons())
        reply = self.decide(ranked, bare=len(set(terms)) == 1)
        if (reply.kind in (ReplyKind.FALLBACK, ReplyKind.CLARIFY) and reply.intent is None
                and context and context.last_text
                and len(terms) <= FOLLOW_UP_MAX_TERMS
                and all(self.matcher.knows(t) for t in terms)):
            joined = f"{context.last_text} {text}"[:MAX_INPUT_CHARS]
            combined = self.decide(self.matcher.rank(joined))
            if combined.kind is ReplyKind.ANSWER:
                reply = combined
        if context is not None and reply.kind is ReplyKind.ANSWER:
            context.last_text, context.last_intent = text[:MAX_INPUT_CHARS], reply.intent
        if truncated:
            reply = _with_text(reply, f"{replies.TOO_LONG_NOTE}\n\n{reply.text}")
        return reply

    def decide(self, ranked: list[Scored], bare: bool = False) -> Reply:
        """Choose the reply for a ranking; `bare` means the question was a single word."""
        policy = self.policy
        if not ranked or ranked[0].score < policy.clarify_threshold:
            return self.fallback()
        top = ranked[0]
        intent = self.kb.intents[top.intent]
        # Only a runner-up that would say something different (another verdict) must be beaten
        # by the margin; a near-tie between two answers with the same verdict is still answered.
        runner_up = next((s.score for s in ranked[1:]
                          if self.kb.intents[s.intent].verdict != intent.verdict), 0.0)
        close = [s for s in ranked[1:] if s.score >= top.score - policy.clarify_window
                 and s.score >= policy.clarify_threshold]
        second = ranked[1].score if len(ranked) > 1 else 0.0
        confident = (top.score >= policy.answer_threshold and top.score - runner_up >= policy.margin
                     ) or top.score - second >= policy.lead_margin
        if confident and not self._unsafe_boleh(intent, ranked):
            return self.reply_for(intent, confidence=top.score, also=close[:1])
        if confident:
            # An unsure "boleh": let the user pick between it and the nearest stricter readings.
            stricter = [s for s in ranked[1:]
                        if self.kb.intents[s.intent].verdict in (Verdict.DILARANG,
                                                                 Verdict.BERSYARAT)]
            if not stricter:
                return self.reply_for(intent, confidence=top.score)
            return self._clarify([top, *stricter][: policy.max_choices])
        if close:
            choices = [top, *close][: policy.max_choices]
            overview = [s for s in choices if self.kb.intents[s.intent].verdict is Verdict.INFO]
            if bare and overview:
                # "kades?", "sanksi?": a bare topic word gets the overview, the rest as buttons.
                others = [s for s in choices if s is not overview[0]]
                return self.reply_for(self.kb.intents[overview[0].intent],
                                      confidence=overview[0].score, also=others)
            return self._clarify(choices)
        return self.fallback()

    def _unsafe_boleh(self, intent: Intent, ranked: list[Scored]) -> bool:
        """A 'boleh' must not win narrowly over a 'dilarang' or 'bersyarat' reading."""
        if intent.verdict is not Verdict.BOLEH:
            return False
        top = ranked[0].score
        if top < self.policy.answer_threshold + self.policy.boleh_extra:
            return True
        for other in ranked[1:]:
            if top - other.score >= self.policy.unsafe_boleh_margin:
                break
            verdict = self.kb.intents[other.intent].verdict
            if verdict in (Verdict.DILARANG, Verdict.BERSYARAT):
                return True
        return False

    def _clarify(self, choices: list[Scored]) -> Reply:
        alternatives = tuple(Choice(self.kb.intents[s.intent].title, s.intent) for s in choices)
        return Reply(
            kind=ReplyKind.CLARIFY, text=replies.CLARIFY_PROMPT,
            confidence=min(choices[0].score, 1.0),
            alternatives=alternatives,
            buttons=(*alternatives,
                     Choice(replies.NONE_OF_THESE, Action(ActionKind.NONE_OF_THESE))),
        )

    # -- building replies -----------------------------------------------------------------
    def reply_for(self, intent: Intent, confidence: float = 1.0,
                  also: list[Scored] | None = None) -> Reply:
        """Build the reply for a known intent (free text match or a pressed button)."""
        confidence = min(confidence, 1.0)
        if intent.kind is IntentKind.SMALLTALK:
            return Reply(kind=ReplyKind.SMALLTALK, text=intent.answer, intent=intent.id,
                         confidence=confidence, buttons=self._topic_buttons())
        if intent.kind is IntentKind.REDIRECT:
            return Reply(kind=ReplyKind.FALLBACK, text=intent.answer, intent=intent.id,
                         confidence=confidence, buttons=self._topic_buttons())
        sources = [self.kb.sources[s] for s in intent.sources]
        related = [r for r in intent.related if r in self.kb.intents]
        extra = [s.intent for s in also or [] if s.intent not in related and s.intent != intent.id]
        buttons = tuple(Choice(self.kb.intents[i].title, i) for i in [*extra, *related][:4])
        return Reply(
            kind=ReplyKind.ANSWER, text=replies.render_answer(intent, sources)[:MAX_MESSAGE_CHARS],
            intent=intent.id, verdict=intent.verdict, confidence=confidence,
            sources=intent.sources, buttons=buttons,
        )

    def answer_intent(self, intent_id: str) -> Reply:
        """Reply to a pressed button that names an intent."""
        intent = self.kb.intents.get(intent_id)
        if intent is None:
            return Reply(kind=ReplyKind.FALLBACK, text=replies.UNKNOWN_INTENT,
                         buttons=self._topic_buttons())
        return self.reply_for(intent)

    def fallback(self) -> Reply:
        """The honest 'I cannot answer that' reply with the topic menu."""
        return Reply(kind=ReplyKind.FALLBACK, text=replies.FALLBACK, buttons=self._topic_buttons())

    def none_of_these(self) -> Reply:
        """Reply to the 'Bukan semuanya' button of a clarification."""
        return Reply(kind=ReplyKind.FALLBACK, text=replies.NONE_OF_THESE_REPLY,
                     buttons=self._topic_buttons())

    def topic_menu(self) -> Reply:
        """The topic menu as buttons."""
        return Reply(kind=ReplyKind.SMALLTALK, text=replies.TOPIC_MENU,
                     buttons=self._topic_buttons())

    def topic(self, topic_id: str) -> Reply:
        """The intents of one topic as buttons."""
        topic = self.kb.topics.get(topic_id)
        if topic is None or topic.hidden:
            return Reply(kind=ReplyKind.FALLBACK, text=replies.UNKNOWN_TOPIC,
                         buttons=self._topic_buttons())
        buttons = tuple(Choice(i.title, i.id) for i in self.kb.intents_in_topic(topic_id))
        return Reply(kind=ReplyKind.SMALLTALK,
                     text=replies.TOPIC_HEADER.format(title=topic.title), buttons=buttons)

    def schedule(self, today: dt.date, limit: int = 6) -> Reply:
        """Upcoming election stages from the calendar (or the latest ones if none is planned)."""
        calendar = self.kb.calendar
        stages = calendar.upcoming(today)[:limit]
        header = replies.SCHEDULE_UPCOMING
        if not stages:
            stages, header = calendar.latest(today), replies.SCHEDULE_NONE
        lines = [replies.render_stage(e.name, s.name, format_date(s.start), format_date(s.end))
                 for e, s in stages]
        text = "\n\n".join([header, "\n".join(lines), replies.SCHEDULE_FOOTER])
        return Reply(kind=ReplyKind.SMALLTALK, text=text)

    def pledge_text(self) -> str:
        """The default pledge text."""
        return replies.render_pledge(self.kb.pledge)

    def _topic_buttons(self) -> tuple[Choice, ...]:
        return tuple(Choice(t.title, Action(ActionKind.TOPIC, t.id))
                     for t in self.kb.topics.values() if not t.hidden)


def _with_text(reply: Reply, text: str) -> Reply:
    return replace(reply, text=text[:MAX_MESSAGE_CHARS])
