"""Decide what to reply: answer, clarify, fallback or smalltalk (the answer contract)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import replies
from bot.cues import Cues
from bot.knowledge import KnowledgeBase
from bot.matcher import Matcher, Scored
from bot.models import (
    MAX_MESSAGE_CHARS,
    Action,
    ActionKind,
    Choice,
    Condition,
    Facet,
    Intent,
    IntentKind,
    QuestionType,
    Reply,
    ReplyKind,
    Shown,
    Verdict,
)
from bot.timetable import DEFAULT_TZ, PLACEHOLDER_RE, Calendar, format_date

MAX_INPUT_CHARS = 4000         # longer messages are read up to here (a note says so)
FOCUS_MIN_CHARS = 160          # from this length the question sentences are ranked again
MARKED_MIN_CHARS = 15          # "intinya" followed by less than this marks no question
RANK_DEPTH = 8                 # intents kept from a ranking
FOLLOW_UP_MAX_TERMS = 4        # "pppk jg?" after a question is read together with that question
NEAREST_TOPICS = 3             # topic buttons under a fallback, beside "Semua topik"


@dataclass(frozen=True, slots=True)
class Policy:
    """Decision thresholds, calibrated with `main.py eval --calibrate` (see README)."""

    answer_threshold: float = 0.44     # answer at or above this score …
    margin: float = 0.0                # … when ahead of any differently-judged intent by this
    agree_threshold: float = 0.42      # or at or above this when no close reading disagrees
    clarify_threshold: float = 0.42    # below this: honest fallback
    clarify_window: float = 0.12       # intents this close to the top are offered as choices
    unsafe_boleh_margin: float = 0.26  # "boleh" must lead any stricter reading by this …
    boleh_extra: float = 0.05          # … and score this much above the answer threshold
    focus_weight: float = 0.2          # long messages: weight of the question sentences …
    focus_weight_unclear: float = 0.5  # … or this, when the whole message reads weakly …
    clear_reading: float = 0.6         # … (its top score under this)
    focus_weight_marked: float = 0.8   # … or this, for the question after "intinya …"
    max_choices: int = 3


@dataclass(slots=True)
class Context:
    """Per-chat conversation state a channel keeps between messages."""

    last_text: str | None = None
    last_intent: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """A message as the dialogue reads it: matching terms, cue words and the ranking.

    `chat` is `words` with chat forms read as stems ("teriakin" as "teriak"), or None when
    there is none; cue phrases are matched on both."""

    terms: list[str]
    words: list[str]
    ranked: list[Scored]
    chat: list[str] | None = None

    @property
    def bare(self) -> bool:
        """A single-word question ("kades?")."""
        return len(set(self.terms)) == 1


class Dialogue:
    """The core's single entry point for free text, buttons and menus."""

    def __init__(self, kb: KnowledgeBase, matcher: Matcher | None = None,
                 policy: Policy | None = None, model_cache: Path | None = None,
                 today: Callable[[], dt.date] | None = None) -> None:
        """`model_cache`: a folder where the matcher keeps its trained scorer between runs;
        `today`: the date answers about "now" are written for (default: today in WIB)."""
        self.kb = kb
        self.today = today or _today_in_jakarta
        self.matcher = matcher or Matcher(kb, model_cache=model_cache)
        self.policy = policy or Policy()
        normalizer = kb.normalizer
        self._concepts = Cues(kb.concepts, normalizer)
        self._general_concepts = Cues(kb.general_concepts, normalizer)
        self._personnel = Cues(kb.personnel, normalizer)
        self._partisan = Cues(kb.partisan, normalizer, kb.negations, kb.not_negations,
                              kb.possessors, kb.rule_statements)
        self._question_types = [(t, Cues(t.cues, normalizer)) for t in kb.question_types]
        # conditions are read like partisan cues; a shared condition is compiled once
        shared = {c for i in kb.intents.values() for c in i.conditions}
        compiled = {c: self._partisan.with_phrases(c.cues) for c in shared}
        self._conditions = {i.id: [(c, compiled[c]) for c in i.conditions]
                            for i in kb.intents.values() if i.conditions}
        self._milder = {i.id: [(m.intent, self._partisan.with_phrases(m.cues)) for m in i.milder]
                        for i in kb.intents.values() if i.milder}
        # per boleh intent, the partisan cues its own phrasings contain (see _partisan_beyond)
        self._settings = {i.id: self._setting(i) for i in kb.intents.values()
                          if i.verdict is Verdict.BOLEH}

    # -- free text ------------------------------------------------------------------------
    def answer(self, text: str, context: Context | None = None) -> Reply:
        """Answer one user message; update `context` for follow-up questions."""
        text = (text or "").replace("\x00", " ")
        if not text.strip():
            return Reply(kind=ReplyKind.FALLBACK, text=replies.EMPTY_INPUT,
                         buttons=self._all_topics())
        truncated = len(text) > MAX_INPUT_CHARS
        text = text[:MAX_INPUT_CHARS]
        reading = self.read(text)
        reply = self.decide(reading)
        if (reply.kind in (ReplyKind.FALLBACK, ReplyKind.CLARIFY) and reply.intent is None
                and context and context.last_text
                and len(reading.terms) <= FOLLOW_UP_MAX_TERMS
                and all(self.matcher.knows(t) for t in reading.terms)):
            combined = self.decide(self.read(f"{context.last_text} {text}"[:MAX_INPUT_CHARS]))
            if combined.kind is ReplyKind.ANSWER:
                reply = combined
        if not reading.terms and reply.kind is not ReplyKind.ANSWER:
            # Only filler ("mau tanya dong min"), emoji or another script: invite the question.
            return Reply(kind=ReplyKind.SMALLTALK, text=replies.EMPTY_INPUT,
                         buttons=self._all_topics())
        if context is not None and reply.kind is ReplyKind.ANSWER:
            context.last_text, context.last_intent = text, reply.intent
        if truncated:
            reply = reply.with_note(replies.TOO_LONG_NOTE)
        return reply

    def read(self, text: str) -> Reading:
        """Normalise and rank a message; in a long one the question sentences weigh more."""
        terms, words = self.kb.normalizer.terms_and_words(text)
        terms = self.matcher.corrected(terms)
        ranked = self.matcher.rank_terms(terms, limit=RANK_DEPTH)
        focus, marked = _question_part(text)
        if focus and ranked:
            # A clear whole message keeps its background (who asks, what happened); a weak one
            # (a long unrelated preamble) lets the asking sentences decide more, and a question
            # the asker marked ("intinya …") decides almost alone.
            policy = self.policy
            weight = (policy.focus_weight_marked if marked
                      else policy.focus_weight if ranked[0].score >= policy.clear_reading
                      else policy.focus_weight_unclear)
            scores = {s.intent: (1 - weight) * s.score for s in ranked}
            for s in self.matcher.rank(focus, limit=RANK_DEPTH):
                scores[s.intent] = scores.get(s.intent, 0.0) + weight * s.score
            ranked = sorted((Scored(i, sc) for i, sc in scores.items()),
                            key=lambda s: -s.score)[:RANK_DEPTH]
        return Reading(terms, words, ranked, self.kb.normalizer.chat_words(words))

    def decide(self, reading: Reading, policy: Policy | None = None) -> Reply:
        """Choose the reply for a reading of a message (with another `policy`: calibration)."""
        policy, ranked = policy or self.policy, reading.ranked
        about_elections = self._about_elections(reading)
        if reading.words and about_elections:
            # A question about elections is not a greeting, however it opens ("mohon izin
            # bertanya …"): the small-talk intents step aside.
            ranked = [s for s in ranked
                      if self.kb.intents[s.intent].kind is not IntentKind.SMALLTALK]
        ranked = self._eased(ranked, reading)
        top = ranked[0] if ranked else None
        intent = self.kb.intents[top.intent] if top else None
        if intent is not None and reading.words and not about_elections:
            # Nothing about elections or neutrality in it: no verdict, whatever matched.
            if intent.kind is not IntentKind.ANSWER and top.score >= policy.agree_threshold:
                return self.reply_for(intent, confidence=top.score)
            return self.out_of_scope()
        if top is None or top.score < policy.clarify_threshold:
            return self.fallback(reading)
        assert intent is not None  # it is the top's
        differs = [s for s in ranked[1:] if self.kb.intents[s.intent].verdict != intent.verdict]
        runner_up = differs[0].score if differs else 0.0
        close = [s for s in ranked[1:] if s.score >= top.score - policy.clarify_window
                 and s.score >= policy.clarify_threshold]
        disagree = [s for s in close if s in differs]
        confident = (top.score >= policy.answer_threshold
                     and top.score - runner_up >= policy.margin) or (
                     top.score >= policy.agree_threshold and not disagree)
        if confident:
            broken = self._broken_condition(intent, reading.words, reading.chat)
            if broken is None and self._unsafe_boleh(intent, reading, policy):
                # An unsure "boleh": let the user pick between it and the stricter readings;
                # with none to offer, no "boleh" at all.
                stricter = [s for s in ranked[1:]
                            if self.kb.intents[s.intent].verdict in _STRICT][:2]
                return self._clarify([top, *stricter]) if stricter else self.fallback()
            return self.reply_for(intent, confidence=top.score, also=close[:2],
                                  words=reading.words, condition=broken)
        if close:
            choices = [top, *close][: policy.max_choices]
            overview = [s for s in choices if self.kb.intents[s.intent].verdict is Verdict.INFO]
            if reading.bare and overview:
                # "kades?", "sanksi?": a bare topic word gets the overview, the rest as buttons.
                others = [s for s in choices if s is not overview[0]]
                return self.reply_for(self.kb.intents[overview[0].intent],
                                      confidence=overview[0].score, also=others)
            return self._clarify(choices)
        return self.fallback(reading)

    def _eased(self, ranked: list[Scored], reading: Reading) -> list[Scored]:
        """The ranking with a prohibition on top replaced by its milder sibling when the
        question states what makes it milder ("foto bareng calon tapi gak diposting")."""
        for target, cues in self._milder.get(ranked[0].intent, ()) if ranked else ():
            if cues.first(reading.words, reading.chat):
                return [Scored(target, ranked[0].score),
                        *(s for s in ranked[1:] if s.intent != target)]
        return ranked

    def _about_elections(self, reading: Reading) -> bool:
        """Whether a message names an election or neutrality concept, in the words as written
        or as read for matching (typos corrected: "kampamye"). A concept HR questions share
        (sanksi, disiplin) counts only without a personnel matter: "yang kena hukdis boleh
        tugas belajar?" is an HR question."""
        def found(cues: Cues) -> bool:
            return bool(cues.first(reading.words, reading.chat) or cues.first(reading.terms))

        return found(self._concepts) or (found(self._general_concepts)
                                         and not found(self._personnel))

    def _unsafe_boleh(self, intent: Intent, reading: Reading, policy: Policy) -> bool:
        """A 'boleh' must score clearly, lead every stricter reading, not be partisan, and
        the question must name what the permission is about (one of the intent's keywords:
        "follow akun calon" is not the permitted "unfollow")."""
        if intent.verdict is not Verdict.BOLEH:
            return False
        if self._partisan_beyond(reading):
            return True
        if not self.matcher.has_keyword(intent.id, reading.terms):
            return True
        ranked = reading.ranked
        top = ranked[0].score
        if top < policy.answer_threshold + policy.boleh_extra:
            return True
        stricter = [s.score for s in ranked[1:] if self.kb.intents[s.intent].verdict in _STRICT]
        return bool(stricter) and top - stricter[0] < policy.unsafe_boleh_margin

    def _partisan_beyond(self, reading: Reading) -> bool:
        """Whether the question is partisan beyond the situation its best intent describes:
        "dimasukin grup relawan paslon, boleh left?" is about leaving such a group, a situation
        the intent's own phrasings name, so "relawan paslon" there is the setting, not a
        partisan act (partisan add-ons to it are the intent's conditions)."""
        found = self._partisan.found(reading.words, reading.chat)
        if found and reading.ranked:
            found -= self._settings.get(reading.ranked[0].intent, frozenset())
        return bool(found)

    def _setting(self, intent: Intent) -> frozenset[str]:
        """The partisan cues an intent's phrasings contain."""
        normalizer, found = self.kb.normalizer, set()
        for phrasing in intent.questions:
            words = normalizer.words(phrasing)
            found |= self._partisan.found(words, normalizer.chat_words(words))
        return frozenset(found)

    def _broken_condition(self, intent: Intent, words: list[str],
                          chat: list[str] | None) -> Condition | None:
        """The first of the intent's conditions that the question itself states as broken."""
        for condition, cues in self._conditions.get(intent.id, ()):
            if cues.first(words, chat):
                return condition
        return None

    def _question_type(self, intent: Intent, words: list[str],
                       chat: list[str] | None) -> QuestionType | None:
        """What a "kenapa …?" / "sanksinya apa?" / "lapornya ke mana?" question about a rule
        asks for: a facet the rule has (a missing `why:` is read from its answer), or another
        intent."""
        if intent.verdict not in _RULES:
            return None
        for question_type, cues in self._question_types:
            facet = question_type.facet
            usable = (question_type.intent not in (None, intent.id)
                      or facet in (Facet.WHY, Facet.RULE) or (facet and _facet_text(intent, facet)))
            if usable and cues.first(words, chat):
                return question_type
        return None

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
                  also: list[Scored] | None = None, words: list[str] | None = None,
                  condition: Condition | None = None, facet: Facet | None = None) -> Reply:
        """Build the reply for a known intent (free text match or a pressed button).

        With the question's `words`, a condition the question breaks makes the verdict
        stricter, and a why/sanction/basis question is answered from that facet as `info`.
        `condition` and `facet` are already known (a "Selengkapnya" button names them). A long
        answer gets its brief (see `Reply`).
        """
        confidence = min(confidence, 1.0)
        if intent.kind is IntentKind.SMALLTALK:  # "makasih", "halo": no menu attached
            return Reply(kind=ReplyKind.SMALLTALK, text=intent.answer, intent=intent.id,
                         confidence=confidence)
        if intent.kind is IntentKind.REDIRECT:
            return Reply(kind=ReplyKind.FALLBACK, text=intent.answer, intent=intent.id,
                         confidence=confidence, buttons=self._all_topics())
        if PLACEHOLDER_RE.search(intent.answer):
            facts = calendar_sentences(self.kb.calendar, self.today())
            intent = replace(intent, answer=PLACEHOLDER_RE.sub(
                lambda m: facts.get(m[1], m[0]), intent.answer))
        sources = [self.kb.sources[s] for s in intent.sources]
        related = [r for r in intent.related if r in self.kb.intents]
        extra = [s.intent for s in also or [] if s.intent not in related and s.intent != intent.id]
        buttons = tuple(Choice(self.kb.intents[i].title, i) for i in [*extra, *related][:4])
        verdict, lead = intent.verdict, None
        words = words or []
        chat = self.kb.normalizer.chat_words(words)
        broken = condition or self._broken_condition(intent, words, chat)
        if broken is not None:
            verdict, lead = broken.verdict, broken.text
        asked = self._question_type(intent, words, chat)
        if asked is not None and asked.intent is not None:
            # "…, lapornya ke mana?": the other intent answers, the rule is one tap away.
            other = self.reply_for(self.kb.intents[asked.intent], confidence)
            rule = Choice(intent.title, intent.id)
            return replace(other, buttons=(rule, *[b for b in other.buttons if b != rule])[:4])
        facet = facet or (asked.facet if asked is not None else None)
        more = ":".join([intent.id, *([f"c{intent.conditions.index(broken)}"] if broken else []),
                         *([f"f{facet}"] if facet else [])])
        if facet is not None:
            facet_text = _facet_text(intent, facet)
            rule = verdict or Verdict.INFO
            text, bold = replies.render_facet(intent, sources, facet, facet_text, rule, lead)
            brief_text = replies.render_facet_brief(intent, facet, facet_text, rule, lead)
            verdict = Verdict.INFO
        else:
            text, bold = replies.render_answer(intent, sources, verdict=verdict, lead=lead)
            brief_text = replies.render_brief(intent, verdict, lead)
        brief = None
        if len(text) > replies.LONG_ANSWER_CHARS:
            brief = Shown(*brief_text,
                          (Choice(replies.MORE_BUTTON, Action(ActionKind.MORE, more)),))
        return Reply(
            kind=ReplyKind.ANSWER, text=text[:MAX_MESSAGE_CHARS],
            intent=intent.id, verdict=verdict, confidence=confidence,
            sources=intent.sources, buttons=buttons, bold=bold, brief=brief,
        )

    def more(self, arg: str) -> Reply:
        """The whole answer behind a "Selengkapnya" button: `arg` is the intent id, then
        ":c<n>" when the question broke its n-th condition and ":f<facet>" when it asked for a
        facet. Forged or stale data (an unknown intent, condition or facet) gets the
        stale-button reply."""
        intent_id, *options = arg.split(":")
        intent = self.kb.intents.get(intent_id)
        condition, facet = None, None
        for option in options if intent is not None else ():
            number = option.removeprefix("c")
            if option.startswith("c") and number.isdecimal() and condition is None \
                    and int(number) < len(intent.conditions):
                condition = intent.conditions[int(number)]
            elif option.startswith("f") and facet is None and option[1:] in _FACETS:
                facet = Facet(option[1:])
            else:
                intent = None
                break
        if intent is None or intent.kind is not IntentKind.ANSWER:
            return Reply(kind=ReplyKind.FALLBACK, text=replies.UNKNOWN_INTENT,
                         buttons=self._topic_buttons())
        return replace(self.reply_for(intent, condition=condition, facet=facet), brief=None)

    def answer_intent(self, intent_id: str) -> Reply:
        """Reply to a pressed button that names an intent."""
        intent = self.kb.intents.get(intent_id)
        if intent is None:
            return Reply(kind=ReplyKind.FALLBACK, text=replies.UNKNOWN_INTENT,
                         buttons=self._topic_buttons())
        return self.reply_for(intent)

    def fallback(self, reading: Reading | None = None) -> Reply:
        """The honest 'I cannot answer that' reply, with the topics nearest to the `reading`
        (those of its best-ranked intents) and "Semua topik"."""
        return Reply(kind=ReplyKind.FALLBACK, text=replies.FALLBACK,
                     buttons=(*self._nearest_topics(reading), *self._all_topics()))

    def out_of_scope(self) -> Reply:
        """The polite reply to a message that is not about elections or neutrality."""
        return Reply(kind=ReplyKind.FALLBACK, text=replies.OUT_OF_SCOPE,
                     buttons=self._all_topics())

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
        now = calendar_sentences(calendar, today)["tahapan_sekarang"]
        text = "\n\n".join([now, header, "\n".join(lines), replies.SCHEDULE_FOOTER])
        return Reply(kind=ReplyKind.SMALLTALK, text=text)

    def pledge_text(self) -> str:
        """The default pledge text."""
        return replies.render_pledge(self.kb.pledge)

    def _topic_buttons(self) -> tuple[Choice, ...]:
        return tuple(Choice(t.title, Action(ActionKind.TOPIC, t.id))
                     for t in self.kb.topics.values() if not t.hidden)

    def _all_topics(self) -> tuple[Choice, ...]:
        """The one button that opens the topic menu."""
        return (Choice(replies.ALL_TOPICS, Action(ActionKind.TOPICS)),)

    def _nearest_topics(self, reading: Reading | None) -> tuple[Choice, ...]:
        """The topics of a reading's best-ranked intents, best first, at most NEAREST_TOPICS."""
        ids: list[str] = []
        for scored in reading.ranked if reading else []:
            topic = self.kb.topics.get(self.kb.intents[scored.intent].topic)
            if topic is not None and not topic.hidden and topic.id not in ids:
                ids.append(topic.id)
        return tuple(Choice(self.kb.topics[t].title, Action(ActionKind.TOPIC, t))
                     for t in ids[:NEAREST_TOPICS])


_STRICT = (Verdict.DILARANG, Verdict.BERSYARAT)
_FACETS = frozenset(Facet)
_RULES = (Verdict.BOLEH, Verdict.DILARANG, Verdict.BERSYARAT)
_SENTENCE_END = re.compile(r"(?<=[.?!\n])\s+")
_ASKING = re.compile(r"\?|\b(boleh|bolehkah|apakah|gimana|bagaimana|bisa|melanggar|aman|"
                     r"masalah|salah|kena|dilarang|harus|wajib|gak|nggak|ga|tidak)\b", re.I)
_MAIN_QUESTION = re.compile(r"\b(intinya|pokoknya|singkatnya|yang penting(nya)?|yg penting(nya)?|"
                            r"pertanyaan(nya| saya| sy| aku)|yang mau (saya|sy) tanyakan)\b[\s,:]*",
                            re.I)


def _question_part(text: str) -> tuple[str | None, bool]:
    """In a long message, the sentences that ask (greeting and background left out), or the
    one after "intinya …" / "pertanyaan saya …", which marks the question among several (then
    True)."""
    if len(text) < FOCUS_MIN_CHARS:
        return None, False
    marks = list(_MAIN_QUESTION.finditer(text))
    if marks:
        main = _SENTENCE_END.split(text[marks[-1].end():].strip(), maxsplit=1)[0]
        if len(main) >= MARKED_MIN_CHARS:
            return main, True
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]
    if len(sentences) < 2:
        return None, False
    asking = [s for s in sentences if "?" in s] or [s for s in sentences if _ASKING.search(s)]
    if not asking or len(asking) == len(sentences):
        return None, False
    return " ".join(asking[-2:]), False


def _facet_text(intent: Intent, facet: Facet) -> str | None:
    if facet is Facet.WHY:
        return intent.why
    if facet is Facet.SANCTION:
        return intent.sanction
    if facet is Facet.RULE:  # the answer itself, after "Aturannya: …"
        return None
    return "; ".join(intent.basis) or None


def calendar_sentences(calendar: Calendar, today: dt.date) -> dict[str, str]:
    """The calendar-dependent sentences intent answers may name as {placeholders}."""
    running = calendar.running(today)
    in_progress = calendar.in_progress(today)
    day = format_date(today)
    if running:
        stages = "; ".join(f"{s.name} {e.name} ({format_date(s.start)} – {format_date(s.end)})"
                           for e, s in running)
        now = replies.NOW_RUNNING.format(today=day, stages=stages)
    elif in_progress:
        now = replies.NOW_IN_PROGRESS.format(
            today=day, elections=", ".join(e.name for e in in_progress))
    else:
        now = replies.NOW_NONE.format(today=day)
    upcoming = [(e, s) for e, s in calendar.upcoming(today) if s.start > today]
    if upcoming:
        election, stage = upcoming[0]
        following = replies.NEXT_STAGE.format(
            stage=f"{stage.name} {election.name}, mulai {format_date(stage.start)}")
    else:
        following = replies.NEXT_NONE
    report = (replies.REPORT_IN_PROGRESS.format(
        today=day, elections=", ".join(e.name for e in in_progress))
              if in_progress else replies.REPORT_BETWEEN.format(today=day))
    return {"tahapan_sekarang": now, "tahapan_berikutnya": following, "jalur_lapor": report}


def _today_in_jakarta() -> dt.date:
    return dt.datetime.now(ZoneInfo(DEFAULT_TZ)).date()

