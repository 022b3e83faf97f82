"""Load and validate the YAML knowledge base (`knowledge/`) into immutable values.

Every problem is collected (not just the first) and reported as
`file:line: entry: field: reason`, so an admin can fix a broken edit in one go.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.dictionary import indonesian
from bot.models import (
    Condition,
    Facet,
    Intent,
    IntentKind,
    Milder,
    Pledge,
    QuestionType,
    Region,
    Source,
    Topic,
    Verdict,
)
from bot.normalize import Lexicon, Normalizer
from bot.timetable import PLACEHOLDER_RE, PLACEHOLDERS, Calendar, Election, ReminderRule, Stage

MAX_ANSWER_CHARS = 900
LEARNED_FILE = "learned.yaml"  # phrasings from real traffic, attached to intents by admins
MAX_TITLE_CHARS = 60
MAX_ID_CHARS = 40
MIN_QUESTIONS = 5
CONFIDENCE_LEVELS = ("C2", "C", "P", "U")
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")

_INTENT_FIELDS = {
    "id", "kind", "title", "topic", "verdict", "confidence", "questions", "keywords", "answer",
    "caution", "basis", "sanction", "sources", "related", "reviewed", "why", "conditions",
    "milder",
}
_CONDITION_FIELDS = frozenset({"when", "verdict", "text"})
_MILDER_FIELDS = frozenset({"when", "intent"})
CONDITIONS_FILE = "conditions.yaml"
# A broken condition may only make the answer stricter.
_STRICTER = {
    Verdict.BOLEH: (Verdict.BERSYARAT, Verdict.DILARANG),
    Verdict.BERSYARAT: (Verdict.DILARANG,),
    Verdict.INFO: (Verdict.DILARANG, Verdict.BERSYARAT),
    Verdict.DILARANG: (),
}
_SOURCE_FIELDS = {"id", "kind", "short", "title", "publisher", "date", "url", "note", "confidence"}
_SOURCE_KINDS = ("article", "regulation", "decision", "statement", "service")


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation problem, located as precisely as the YAML allows."""

    file: str
    line: int
    entry: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.entry or '-'}: {self.field or '-'}: {self.reason}"


class KnowledgeError(Exception):
    """Raised when the knowledge base has problems; `problems` lists all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """The validated knowledge base: what the matcher indexes and the replies cite."""

    intents: dict[str, Intent]
    sources: dict[str, Source]
    topics: dict[str, Topic]
    pledges: dict[str, Pledge]
    regions: dict[str, Region]
    calendar: Calendar
    lexicon: Lexicon
    normalizer: Normalizer
    concepts: tuple[str, ...] = ()                 # scope.yaml: election/neutrality concepts
    general_concepts: tuple[str, ...] = ()         # scope.yaml: … shared with HR (sanksi)
    personnel: tuple[str, ...] = ()                # scope.yaml: HR matters (tugas belajar)
    partisan: tuple[str, ...] = ()                 # scope.yaml: words of partisanship
    negations: tuple[str, ...] = ()                # scope.yaml: words that void a cue after them
    not_negations: tuple[str, ...] = ()            # scope.yaml: … except in these ("jangan lupa")
    possessors: tuple[str, ...] = ()               # scope.yaml: "ayah saya share" is ayah's act
    rule_statements: tuple[str, ...] = ()          # scope.yaml: "yang dilarang …" states a rule
    question_types: tuple[QuestionType, ...] = ()  # question_types.yaml

    def intents_in_topic(self, topic_id: str) -> list[Intent]:
        """Return the answer intents of a topic, in file order."""
        return [
            i for i in self.intents.values()
            if i.topic == topic_id and i.kind is IntentKind.ANSWER
        ]

    @property
    def pledge(self) -> Pledge:
        """The default pledge (the first one in pledge.yaml)."""
        return next(iter(self.pledges.values()))


class _Lines:
    """A loader mix-in that remembers the line of every mapping and of each of its keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.lines: dict[int, int] = {}
        self.key_lines: dict[tuple[int, str], int] = {}

    def construct_located_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        data.update(self.construct_mapping(node))
        self.lines[id(data)] = node.start_mark.line + 1
        for key_node, _ in node.value:
            self.key_lines[(id(data), str(key_node.value))] = key_node.start_mark.line + 1


class _LineLoader(_Lines, yaml.SafeLoader):
    """Python's parser: slower, but its error messages name the character ('\\t')."""


# libyaml's parser when PyYAML was built with it (10x faster on the intent files); a file it
# rejects is parsed again by Python's for the error message.
_FastLineLoader = (type("_FastLineLoader", (_Lines, yaml.CSafeLoader), {})
                   if hasattr(yaml, "CSafeLoader") else _LineLoader)
for _loader in {_LineLoader, _FastLineLoader}:
    _loader.add_constructor("tag:yaml.org,2002:map", _loader.construct_located_map)


def _parse(text: str) -> tuple[Any, _Lines]:
    """The document and the loader that read it (for lines); raises yaml.YAMLError."""
    try:
        return _read(_FastLineLoader, text)
    except yaml.YAMLError:
        return _read(_LineLoader, text)  # fails again, with Python's precise message


def _read(loader_class: type[_Lines], text: str) -> tuple[Any, _Lines]:
    loader = loader_class(text)
    try:
        return loader.get_single_data(), loader
    finally:
        loader.dispose()


class _FileReader:
    """Parse one YAML file and report problems located in it."""

    def __init__(self, path: Path, root: Path, problems: list[Problem]) -> None:
        self.path = path
        self.name = str(path.relative_to(root.parent)) if root.parent in path.parents else str(path)
        self.problems = problems
        self.loader: _Lines | None = None
        self.failed = False

    def load(self) -> Any:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.add(None, "", "", f"cannot read file: {exc}")
            self.failed = True
            return None
        try:
            data, loader = _parse(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 0
            self.problems.append(Problem(self.name, line, "", "",
                                         f"invalid YAML: {_one_line(exc)}"))
            self.failed = True
            return None
        self.loader = loader
        return data

    def line(self, mapping: Any, key: str | None = None) -> int:
        if self.loader is None or not isinstance(mapping, dict):
            return 0
        if key is not None and (id(mapping), key) in self.loader.key_lines:
            return self.loader.key_lines[(id(mapping), key)]
        return self.loader.lines.get(id(mapping), 0)

    def add(self, mapping: Any, entry: str, field: str, reason: str) -> None:
        line = self.line(mapping, field or None)
        self.problems.append(Problem(self.name, line, entry, field, reason))

    def entries(self, data: Any, key: str) -> Iterator[dict[str, Any]]:
        if self.failed:
            return
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            self.add(data, "", key, f"top-level key '{key}:' with a list is required")
            return
        for position, item in enumerate(data[key], start=1):
            if not isinstance(item, dict):
                self.add(data, f"#{position}", "", "each entry must be a mapping")
                continue
            yield item


def _identified(reader: _FileReader, data: Any, key: str, what: str,
                max_len: int = MAX_ID_CHARS) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (id, entry) for the entries under `key` whose id is valid and not a duplicate."""
    seen: set[str] = set()
    for item in reader.entries(data, key):
        eid = str(item.get("id", ""))
        if not _ID_RE.match(eid) or len(eid) > max_len:
            reader.add(item, eid, "id", f"must be snake_case, at most {max_len} characters")
        elif eid in seen:
            reader.add(item, eid, "id", f"duplicate {what} id")
        else:
            seen.add(eid)
            yield eid, item


def _text(reader: _FileReader, item: dict[str, Any], entry: str, field: str,
          required: bool = True, limit: int | None = None) -> str | None:
    value = item.get(field)
    if value is None:
        if required:
            reader.add(item, entry, field, "missing")
        return None
    if not isinstance(value, str) or not value.strip():
        reader.add(item, entry, field, "must be non-empty text")
        return None
    value = " ".join(value.split()) if "\n" not in value.strip() else value.strip()
    if limit is not None and len(value) > limit:
        reader.add(item, entry, field, f"too long ({len(value)} > {limit} characters)")
    return value


def _strings(reader: _FileReader, item: dict[str, Any], entry: str, field: str) -> tuple[str, ...]:
    value = item.get(field, [])
    if value is None:
        return ()
    if not isinstance(value, list):
        reader.add(item, entry, field, "must be a list")
        return ()
    out = []
    for n, v in enumerate(value, start=1):
        if isinstance(v, int | float) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str) or not v.strip():
            hint = " (quote text that contains ': ')" if isinstance(v, dict) else ""
            reader.add(item, entry, field, f"item {n} must be non-empty text{hint}")
            continue
        out.append(" ".join(v.split()))
    return tuple(out)


def _date(reader: _FileReader, item: dict[str, Any], entry: str, field: str) -> dt.date | None:
    value = item.get(field)
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value
    reader.add(item, entry, field, f"must be a date like 2026-11-22, got {value!r}")
    return None


def _load_lexicon(path: Path, root: Path, problems: list[Problem]) -> Lexicon:
    reader = _FileReader(path, root, problems)
    data = reader.load()
    if not isinstance(data, dict):
        if data is not None:
            reader.add(data, "", "", "must be a mapping")
        return Lexicon()

    def mapping(field: str) -> dict[str, str]:
        value = data.get(field) or {}
        if not isinstance(value, dict):
            reader.add(data, "lexicon", field, "must be a mapping of word -> replacement")
            return {}
        for key in value:
            if not isinstance(key, str):  # YAML reads a bare no/yes/on as a boolean
                reader.add(value, "lexicon", field,
                           f"key {key!r} is not a word: quote it (\"no\": nomor)")
        return {k.lower(): "" if v is None else str(v).lower()
                for k, v in value.items() if isinstance(k, str)}

    def words(field: str) -> frozenset[str]:
        value = data.get(field) or []
        if not isinstance(value, list):
            reader.add(data, "lexicon", field, "must be a list of words")
            return frozenset()
        return frozenset(str(v).lower() for v in value)

    lexicon = Lexicon(
        replace=mapping("replace"), before_number=mapping("before_number"),
        phrases=mapping("phrases"), numbers=mapping("numbers"),
        filler=words("filler"), protected=words("protected"), no_stem=words("no_stem"),
    )
    for word in sorted(lexicon.filler & lexicon.protected):
        reader.add(data, "lexicon", "filler", f"'{word}' is protected and must not be filler")
    for word, target in sorted(lexicon.replace.items()):
        if word in lexicon.protected and target != word:
            reader.add(data, "lexicon", "replace", f"'{word}' is protected and must not change")
    return lexicon


def _load_sources(path: Path, root: Path, problems: list[Problem]) -> dict[str, Source]:
    reader = _FileReader(path, root, problems)
    sources: dict[str, Source] = {}
    for sid, item in _identified(reader, reader.load(), "sources", "source"):
        for key in sorted(set(item) - _SOURCE_FIELDS):
            reader.add(item, sid, key, "unknown field")
        kind = item.get("kind")
        if kind not in _SOURCE_KINDS:
            reader.add(item, sid, "kind", f"must be one of {', '.join(_SOURCE_KINDS)}")
        if item.get("confidence") not in (None, *CONFIDENCE_LEVELS):
            reader.add(item, sid, "confidence", f"must be one of {', '.join(CONFIDENCE_LEVELS)}")
        title = _text(reader, item, sid, "title")
        short = _text(reader, item, sid, "short", limit=60)
        sources[sid] = Source(
            id=sid, kind=str(kind), title=title or sid, short=short or sid,
            publisher=item.get("publisher"), date=_date(reader, item, sid, "date"),
            url=item.get("url"), note=item.get("note"), confidence=item.get("confidence"),
        )
    return sources


def _load_topics(path: Path, root: Path, problems: list[Problem]) -> dict[str, Topic]:
    reader = _FileReader(path, root, problems)
    topics: dict[str, Topic] = {}
    for tid, item in _identified(reader, reader.load(), "topics", "topic", max_len=12):
        title = _text(reader, item, tid, "title", limit=MAX_TITLE_CHARS)
        topics[tid] = Topic(id=tid, title=title or tid, hidden=bool(item.get("hidden", False)))
    return topics


def _load_regions(path: Path, root: Path, problems: list[Problem]) -> dict[str, Region]:
    reader = _FileReader(path, root, problems)
    regions: dict[str, Region] = {}
    for rid, item in _identified(reader, reader.load(), "regions", "region", max_len=12):
        tz = str(item.get("tz", ""))
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            reader.add(item, rid, "tz", f"unknown time zone {tz!r}")
        regions[rid] = Region(id=rid, name=_text(reader, item, rid, "name") or rid, tz=tz)
    return regions


def _load_calendar(path: Path, root: Path, problems: list[Problem], sources: dict[str, Source],
                   regions: dict[str, Region]) -> Calendar:
    reader = _FileReader(path, root, problems)
    data = reader.load()
    if not isinstance(data, dict):
        if data is not None:
            reader.add(data, "", "", "must be a mapping with messages, reminders and elections")
        return Calendar()
    messages = data.get("messages") or {}
    if not isinstance(messages, dict) or not all(isinstance(v, str) for v in messages.values()):
        reader.add(data, "", "messages", "must map message ids to text")
        messages = {}
    messages = {str(k): " ".join(v.split()) for k, v in messages.items()}
    for mid, text in messages.items():
        try:
            text.format(election="x", stage_start="x", stage_end="x")
        except (KeyError, IndexError, ValueError) as exc:
            reader.add(data, mid, "messages",
                       f"unknown placeholder {exc}; "
                       "use {election}, {stage_start} or {stage_end}")

    elections: list[Election] = []
    for eid, item in _identified(reader, data, "elections", "election"):
        stages: list[Stage] = []
        for stage in item.get("stages") or []:
            sid = str(stage.get("id", "")) if isinstance(stage, dict) else ""
            start = _date(reader, stage, f"{eid}.{sid}", "start") if sid else None
            end = _date(reader, stage, f"{eid}.{sid}", "end") if sid else None
            if not (sid and start and end and isinstance(stage.get("name"), str)):
                reader.add(stage if isinstance(stage, dict) else item, f"{eid}.{sid}", "stages",
                           "each stage needs id, name, start and end dates")
                continue
            if end < start:
                reader.add(stage, f"{eid}.{sid}", "end", "ends before it starts")
            stages.append(Stage(sid, stage["name"], start, end))
        if not stages:
            reader.add(item, eid, "stages", "at least one stage is required")
        election_regions = _strings(reader, item, eid, "regions")
        for rid in election_regions:
            if rid not in regions:
                reader.add(item, eid, "regions", f"unknown region id '{rid}'")
        cited = _strings(reader, item, eid, "sources")
        for sid in cited:
            if sid not in sources:
                reader.add(item, eid, "sources", f"unknown source id '{sid}'")
        elections.append(Election(eid, _text(reader, item, eid, "name") or eid, tuple(stages),
                                  election_regions, cited))

    stage_ids = {s.id for e in elections for s in e.stages}
    rules: list[ReminderRule] = []
    for rid, item in _identified(reader, data, "reminders", "reminder"):
        if item.get("stage") not in stage_ids:
            reader.add(item, rid, "stage", f"no election has a stage '{item.get('stage')}'")
        if item.get("message") not in messages:
            reader.add(item, rid, "message", f"unknown message '{item.get('message')}'")
        try:
            hour, minute = (int(x) for x in str(item.get("time", "")).split(":"))
            at = dt.time(hour, minute)
        except ValueError:
            reader.add(item, rid, "time", f"must be HH:MM, got {item.get('time')!r}")
            continue
        offset, every = item.get("offset_days", 0), item.get("every_days")
        if not isinstance(offset, int) or (every is not None and (
                not isinstance(every, int) or every < 1)):
            reader.add(item, rid, "offset_days", "offset_days and every_days must be whole days")
            continue
        rules.append(ReminderRule(rid, str(item.get("stage")), offset, at,
                                  str(item.get("message")), every))
    return Calendar(tuple(elections), tuple(rules), messages)


def _load_pledges(path: Path, root: Path, problems: list[Problem],
                  sources: dict[str, Source]) -> dict[str, Pledge]:
    reader = _FileReader(path, root, problems)
    pledges: dict[str, Pledge] = {}
    for pid, item in _identified(reader, reader.load(), "pledges", "pledge"):
        points = _strings(reader, item, pid, "points")
        if not points:
            reader.add(item, pid, "points", "at least one pledge point is required")
        cited = _strings(reader, item, pid, "sources")
        for sid in cited:
            if sid not in sources:
                reader.add(item, pid, "sources", f"unknown source id '{sid}'")
        pledges[pid] = Pledge(
            id=pid, title=_text(reader, item, pid, "title") or pid,
            intro=_text(reader, item, pid, "intro") or "", points=points,
            closing=_text(reader, item, pid, "closing", required=False) or "", sources=cited,
        )
    if not pledges and not reader.failed:
        reader.add(None, "", "pledges", "at least one pledge is required")
    return pledges


def _load_scope(path: Path, root: Path, problems: list[Problem]) -> dict[str, tuple[str, ...]]:
    """The concepts, personnel matters, partisanship cues and negations of scope.yaml, by key."""
    reader = _FileReader(path, root, problems)
    data = reader.load()
    keys = ("concepts", "general_concepts", "personnel", "partisan", "negations",
            "not_negations", "possessors", "rule_statements")
    if reader.failed:
        return dict.fromkeys(keys, ())
    if not isinstance(data, dict):
        reader.add(data, "", "concepts", f"must be a mapping with {', '.join(keys)}")
        return dict.fromkeys(keys, ())
    for key in sorted(set(data) - set(keys)):
        reader.add(data, "scope", key, "unknown key")
    scope = {key: _strings(reader, data, "scope", key) for key in keys}
    for negation in scope.get("negations", ()):
        if len(negation.split()) != 1:  # each word of a phrase would negate on its own
            reader.add(data, "scope", "negations", f"{negation!r}: a negation is one word")
    if not scope["concepts"]:
        reader.add(data, "scope", "concepts", "at least one concept is required")
    return scope


def _load_question_types(path: Path, root: Path, problems: list[Problem],
                         readers: dict[str, tuple[_FileReader, Any]]) -> tuple[QuestionType, ...]:
    """The question types; `readers` receives where each is, to check `intent` ids later."""
    reader = _FileReader(path, root, problems)
    types = []
    for tid, item in _identified(reader, reader.load(), "question_types", "question type"):
        facet, target = item.get("facet"), item.get("intent")
        if (facet is None) == (target is None):
            reader.add(item, tid, "facet",
                       "give either facet (why, sanction, basis, rule) or intent")
            continue
        if facet is not None and facet not in {f.value for f in Facet}:
            reader.add(item, tid, "facet", f"must be one of {', '.join(f.value for f in Facet)}")
            continue
        cues = _strings(reader, item, tid, "cues")
        if not cues:
            reader.add(item, tid, "cues", "at least one cue phrase is required")
        types.append(QuestionType(tid, cues, Facet(facet) if facet else None,
                                  str(target) if target else None))
        readers[tid] = (reader, item)
    return tuple(types)


def _with_learned(path: Path, root: Path, problems: list[Problem],
                  intents: dict[str, Intent]) -> dict[str, Intent]:
    """Add the reviewed phrasings from real traffic (learned.yaml) to their intents."""
    if not path.is_file():
        return intents
    reader = _FileReader(path, root, problems)
    data = reader.load()
    if reader.failed or data is None or (isinstance(data, dict) and not data.get("phrasings")):
        return intents
    added: dict[str, list[str]] = {}
    for item in reader.entries(data, "phrasings"):
        iid = str(item.get("intent", ""))
        question = _text(reader, item, iid, "q")
        if iid not in intents:
            reader.add(item, iid, "intent", f"unknown intent id '{iid}'")
        elif question:
            added.setdefault(iid, []).append(question)
        _date(reader, item, iid, "added")
    return {iid: replace(i, questions=(*i.questions, *added[iid])) if iid in added else i
            for iid, i in intents.items()}


def _load_intent(reader: _FileReader, item: dict[str, Any], topics: dict[str, Topic],
                 sources: dict[str, Source], shared: dict[str, Condition]) -> Intent | None:
    iid = str(item.get("id", ""))
    if not _ID_RE.match(iid) or len(iid) > MAX_ID_CHARS:
        reader.add(item, iid, "id", f"must be snake_case, at most {MAX_ID_CHARS} characters")
        return None
    for key in sorted(set(item) - _INTENT_FIELDS):
        reader.add(item, iid, key, "unknown field")
    try:
        kind = IntentKind(item.get("kind", "answer"))
    except ValueError:
        reader.add(item, iid, "kind", "must be answer, smalltalk or redirect")
        kind = IntentKind.ANSWER
    title = _text(reader, item, iid, "title", limit=MAX_TITLE_CHARS)
    answer = _text(reader, item, iid, "answer", limit=MAX_ANSWER_CHARS)
    topic = item.get("topic")
    if topic not in topics:
        reader.add(item, iid, "topic", f"unknown topic '{topic}'")
    questions = _strings(reader, item, iid, "questions")
    if len(questions) < (MIN_QUESTIONS if kind is IntentKind.ANSWER else 2):
        reader.add(item, iid, "questions", f"too few phrasings ({len(questions)})")

    verdict: Verdict | None = None
    raw_verdict = item.get("verdict")
    if kind is IntentKind.ANSWER:
        try:
            verdict = Verdict(raw_verdict)
        except ValueError:
            reader.add(item, iid, "verdict", "must be boleh, dilarang, bersyarat or info")
    elif raw_verdict is not None:
        reader.add(item, iid, "verdict", f"a {kind.value} intent must not have a verdict")

    confidence = str(item.get("confidence", "C2"))
    if confidence not in CONFIDENCE_LEVELS:
        reader.add(item, iid, "confidence", f"must be one of {', '.join(CONFIDENCE_LEVELS)}")
    for name in PLACEHOLDER_RE.findall(answer or ""):
        if name not in PLACEHOLDERS:
            reader.add(item, iid, "answer", f"unknown placeholder {{{name}}}; use "
                       + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
    caution = _text(reader, item, iid, "caution", required=False, limit=400)
    if confidence in ("P", "U") and not caution:
        reader.add(item, iid, "caution", f"required when confidence is {confidence}")
    if confidence == "U" and verdict is Verdict.BOLEH:
        reader.add(item, iid, "verdict", "an unconfirmed rule (confidence U) is never a plain "
                   "boleh: use bersyarat with the caution")

    basis = _strings(reader, item, iid, "basis")
    cited = _strings(reader, item, iid, "sources")
    for sid in cited:
        if sid not in sources:
            reader.add(item, iid, "sources", f"unknown source id '{sid}'")
    if kind is IntentKind.ANSWER:
        if not cited:
            reader.add(item, iid, "sources", "an answer must cite at least one source")
        if not basis:
            reader.add(item, iid, "basis", "an answer must state its legal basis")
    for text in basis:
        if "KASN" in text and "bubar" not in text.lower():
            reader.add(item, iid, "basis", "KASN was dissolved in 2024; do not refer users to it")

    return Intent(
        id=iid, title=title or iid, topic=str(topic), kind=kind, questions=questions,
        answer=answer or "", verdict=verdict, confidence=confidence,
        keywords=tuple(k.lower() for k in _strings(reader, item, iid, "keywords")),
        caution=caution, basis=basis,
        sanction=_text(reader, item, iid, "sanction", required=False, limit=400),
        sources=cited, related=_strings(reader, item, iid, "related"),
        reviewed=_date(reader, item, iid, "reviewed"),
        why=_text(reader, item, iid, "why", required=False, limit=400),
        conditions=_conditions(reader, item, iid, verdict, shared),
        milder=_milder(reader, item, iid, verdict), file=reader.name,
    )


def _conditions(reader: _FileReader, item: dict[str, Any], iid: str, verdict: Verdict | None,
                shared: dict[str, Condition]) -> tuple[Condition, ...]:
    """An intent's conditions: inline mappings, or ids of conditions.yaml's shared ones."""
    raw = item.get("conditions")
    if raw is None:
        return ()
    if not isinstance(raw, list) or verdict is None:
        reader.add(item, iid, "conditions", "must be a list, on an answer intent")
        return ()
    out = []
    for n, entry in enumerate(raw, start=1):
        where = f"{iid}.conditions[{n}]"
        if isinstance(entry, str):
            condition = shared.get(entry)
            if condition is None:
                reader.add(item, iid, "conditions",
                           f"item {n}: unknown shared condition '{entry}' (see {CONDITIONS_FILE})")
                continue
        elif isinstance(entry, dict):
            condition = _condition(reader, entry, where)
        else:
            reader.add(item, iid, "conditions",
                       f"item {n} must be a mapping or the id of a shared condition")
            continue
        if condition is None:
            continue
        if condition.verdict not in _STRICTER[verdict]:
            reader.add(entry if isinstance(entry, dict) else item, where, "verdict",
                       f"must be stricter than the intent's verdict '{verdict.value}'")
            continue
        out.append(condition)
    return tuple(out)


def _milder(reader: _FileReader, item: dict[str, Any], iid: str,
            verdict: Verdict | None) -> tuple[Milder, ...]:
    """A prohibition's milder siblings: `when` cues and the `intent` that answers then."""
    raw = item.get("milder")
    if raw is None:
        return ()
    if not isinstance(raw, list) or verdict is not Verdict.DILARANG:
        reader.add(item, iid, "milder", "must be a list, on a dilarang intent")
        return ()
    out = []
    for n, entry in enumerate(raw, start=1):
        where = f"{iid}.milder[{n}]"
        if not isinstance(entry, dict):
            reader.add(item, iid, "milder", f"item {n} must be a mapping with when and intent")
            continue
        cues, target = _when(reader, entry, where, _MILDER_FIELDS), entry.get("intent")
        if not isinstance(target, str) or not target:
            reader.add(entry, where, "intent", "the id of the milder intent is required")
        elif cues:
            out.append(Milder(cues, target))
    return tuple(out)


def _when(reader: _FileReader, entry: dict[str, Any], where: str,
          fields: frozenset[str]) -> tuple[str, ...]:
    """The `when` cues of a condition or milder mapping (which has only `fields`)."""
    for key in sorted(set(entry) - fields):
        reader.add(entry, where, key, "unknown field")
    cues = _strings(reader, entry, where, "when")
    if not cues:
        reader.add(entry, where, "when", "at least one cue phrase is required")
    return cues


def _condition(reader: _FileReader, entry: dict[str, Any], where: str,
               fields: frozenset[str] = _CONDITION_FIELDS) -> Condition | None:
    """One condition mapping: `when` cues, a stricter `verdict` and its `text`."""
    cues = _when(reader, entry, where, fields)
    try:
        broken = Verdict(entry.get("verdict"))
    except ValueError:
        reader.add(entry, where, "verdict", "must be dilarang or bersyarat")
        return None
    text = _text(reader, entry, where, "text", limit=300)
    return Condition(cues, broken, text) if cues and text else None


def _load_shared_conditions(path: Path, root: Path,
                            problems: list[Problem]) -> dict[str, Condition]:
    """conditions.yaml: conditions many permissive rules share, named by id in their
    `conditions:` ("atribut_calon", "pose_jari" …), so each is written once."""
    if not path.is_file():
        return {}
    reader = _FileReader(path, root, problems)
    shared = {}
    for cid, entry in _identified(reader, reader.load(), "conditions", "condition"):
        condition = _condition(reader, entry, cid, _CONDITION_FIELDS | {"id"})
        if condition is not None:
            shared[cid] = condition
    return shared


def normalizer_for(lexicon: Lexicon, intents: Iterable[Intent]) -> Normalizer:
    """A normaliser whose stemmer may reduce words only to words these intents use."""
    normalizer = Normalizer(lexicon, is_word=indonesian().is_word)
    phrasings = [q for i in intents for q in (*i.questions, *i.keywords)]
    normalizer.keep_tokens(phrasings)
    normalizer.learn_vocabulary(
        t for q in phrasings for t in normalizer.tokens(q) if t not in lexicon.filler)
    return normalizer


def _one_line(exc: yaml.YAMLError) -> str:
    """A YAML error as one line: what is wrong and at which column (PyYAML prints a snippet)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if not problem:
        return " ".join(str(exc).split())
    where = f" at column {mark.column + 1}" if mark is not None else ""
    hint = "; indent with spaces, not tabs" if "'\\t'" in problem else ""
    return f"{problem}{where}{hint}"


# Problems that follow from a file that could not be read: while it is broken, every reference
# to what it defines is "unknown", so they are left out and counted in one line instead.
_FOLLOW_ONS: dict[str, tuple[str, ...]] = {
    "topics.yaml": ("unknown topic ",),
    "sources.yaml": ("unknown source id ", "which no source in sources.yaml is"),
    "regions.yaml": ("unknown region id ",),
    "intents": ("unknown intent id ",),
}


def _root_causes(problems: list[Problem]) -> list[Problem]:
    """The problems minus those that only follow from an unreadable file (counted instead)."""
    broken = [p for p in problems if p.reason.startswith(("invalid YAML", "cannot read file"))]
    kept = list(problems)
    for root_cause in broken:
        path = Path(root_cause.file)
        key = "intents" if path.parent.name == "intents" else path.name
        follow = _FOLLOW_ONS.get(key, ())
        if not follow:
            continue
        before = len(kept)
        kept = [p for p in kept if not any(marker in p.reason for marker in follow)]
        if len(kept) < before:
            kept.append(Problem(root_cause.file, root_cause.line, "", "",
                                f"{before - len(kept)} problem(s) elsewhere follow from this "
                                "one and are not shown; fix it and run `main.py check` again"))
    return kept


def load_knowledge(root: Path) -> KnowledgeBase:
    """Load, validate and cross-check the knowledge base in `root`.

    Raises:
        KnowledgeError: with every problem found, when there is at least one.
    """
    problems: list[Problem] = []
    root = Path(root)
    lexicon = _load_lexicon(root / "lexicon.yaml", root, problems)
    sources = _load_sources(root / "sources.yaml", root, problems)
    topics = _load_topics(root / "topics.yaml", root, problems)
    pledges = _load_pledges(root / "pledge.yaml", root, problems, sources)
    regions = _load_regions(root / "regions.yaml", root, problems)
    calendar = _load_calendar(root / "calendar.yaml", root, problems, sources, regions)
    scope = _load_scope(root / "scope.yaml", root, problems)
    shared_conditions = _load_shared_conditions(root / CONDITIONS_FILE, root, problems)
    type_places: dict[str, tuple[_FileReader, Any]] = {}
    question_types = _load_question_types(root / "question_types.yaml", root, problems,
                                          type_places)

    intents: dict[str, Intent] = {}
    files = sorted((root / "intents").glob("*.yaml"))
    if not files:
        problems.append(Problem(str(root / "intents"), 0, "", "", "no intent files found"))
    readers: dict[str, _FileReader] = {}
    raw_items: dict[str, dict[str, Any]] = {}
    for path in files:
        reader = _FileReader(path, root, problems)
        for item in reader.entries(reader.load(), "intents"):
            intent = _load_intent(reader, item, topics, sources, shared_conditions)
            if intent is None:
                continue
            if intent.id in intents:
                reader.add(item, intent.id, "id",
                           f"duplicate intent id (first in {intents[intent.id].file})")
                continue
            intents[intent.id] = intent
            readers[intent.id] = reader
            raw_items[intent.id] = item
    intents = _with_learned(root / LEARNED_FILE, root, problems, intents)
    for question_type in question_types:
        if question_type.intent is not None and question_type.intent not in intents:
            reader, item = type_places[question_type.id]
            reader.add(item, question_type.id, "intent",
                       f"unknown intent id '{question_type.intent}'")

    normalizer = normalizer_for(lexicon, intents.values())
    _check_cue_words(question_types, type_places, intents, normalizer)
    _check_rule_cues(intents, readers, raw_items, lexicon, normalizer)
    seen: dict[str, str] = {}
    for intent in intents.values():
        reader, item = readers[intent.id], raw_items[intent.id]
        for milder in intent.milder:
            target = intents.get(milder.intent)
            if target is None:
                reader.add(item, intent.id, "milder", f"unknown intent id '{milder.intent}'")
            elif target.verdict is not Verdict.BERSYARAT:
                # never a plain boleh, or an info, for what reads as a prohibition
                reader.add(item, intent.id, "milder",
                           f"'{milder.intent}' must be a bersyarat intent")
        for rel in intent.related:
            if rel not in intents:
                reader.add(item, intent.id, "related", f"unknown intent id '{rel}'")
            elif rel == intent.id:
                reader.add(item, intent.id, "related", "an intent cannot be related to itself")
        for question in intent.questions:
            key = " ".join(normalizer.terms(question))
            if not key:
                reader.add(item, intent.id, "questions",
                           f"phrasing {question!r} has no matchable words")
                continue
            owner = seen.setdefault(key, intent.id)
            if owner != intent.id:
                reader.add(item, intent.id, "questions",
                           f"phrasing {question!r} is also under intent '{owner}'")
    _check_citations_and_lexicon(root, intents, readers, raw_items, sources, lexicon, normalizer,
                                 problems)
    if problems:
        raise KnowledgeError(_root_causes(problems))
    return KnowledgeBase(intents=intents, sources=sources, topics=topics, pledges=pledges,
                         regions=regions, calendar=calendar, lexicon=lexicon, normalizer=normalizer,
                         question_types=question_types, **scope)


def _check_cue_words(question_types: tuple[QuestionType, ...],
                     places: dict[str, tuple[_FileReader, Any]], intents: dict[str, Intent],
                     normalizer: Normalizer) -> None:
    """A question-type cue that reads as one word an intent is about ("ancamannya" is stemmed
    to "ancam", the act of threatening) would turn every question about that act into a
    facet question (only rules are: `Dialogue._question_type`)."""
    keywords = {word: intent.id for intent in intents.values()
                if intent.verdict not in (None, Verdict.INFO)  # only rules get facet answers
                for word in normalizer.words(" ".join(intent.keywords))}
    for question_type in question_types:
        reader, item = places[question_type.id]
        for cue in question_type.cues:
            words = normalizer.words(cue)
            if len(words) == 1 and words[0] in keywords:
                reader.add(item, question_type.id, "cues",
                           f"cue {cue!r} reads as {words[0]!r}, a keyword of intent "
                           f"'{keywords[words[0]]}': give it a second word")


def _check_rule_cues(intents: dict[str, Intent], readers: dict[str, _FileReader],
                     raw_items: dict[str, Any], lexicon: Lexicon,
                     normalizer: Normalizer) -> None:
    """A condition or milder cue made only of verdict words would match the question itself:
    "tidak diizinkan" reads as "tidak boleh", which every "… tidak boleh jadi KPPS?" contains."""
    verdict_words, read = frozenset(lexicon.protected), {}  # a shared cue is read once
    for intent in intents.values():
        for field, cues in (("conditions", {c for cond in intent.conditions for c in cond.cues}),
                            ("milder", {c for m in intent.milder for c in m.cues})):
            for cue in sorted(cues):
                words = read.get(cue)
                if words is None:
                    words = read[cue] = normalizer.words(cue)
                if words and verdict_words.issuperset(words):
                    readers[intent.id].add(
                        raw_items[intent.id], intent.id, field,
                        f"cue {cue!r} reads as {' '.join(words)!r}, which a question itself "
                        "says: name the act or the person")


# -- cross-checks: cited regulations, lexicon rewrites, review dates -------------------------
# A regulation is named like "PP 94/2021", "UU Nomor 10 Tahun 2016", "Perbawaslu 8/2020",
# "SKB 2022", "Putusan MK 136/PUU-XXII/2024" or "SE Mendagri 900.1.9/9095/SJ". The same
# patterns read a source's own regulation from its `short` (else its `title`), so the mapping
# from names to source ids is data: add a source and its name is known.
_REG_KINDS = (
    "UU", "PP", "Perppu", "Perpres", "PKPU", "Perbawaslu", "Peraturan BKN", "Perban",
    "PermenPANRB", "Permendagri", "SE MenPANRB", "SE Mendagri", "SE BKN",
)
_REG_ALIASES = {"perban": "peraturan bkn"}
_REG_SPELLING = {k.lower(): k for k in _REG_KINDS}
_REG_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_REG_KINDS, key=len, reverse=True)) + r")"
    r"\s+(?:Nomor\s+|No\.?\s+)?(\d+)(?:/|\s+Tahun\s+)(\d{4})\b", re.IGNORECASE)
_REG_LETTER_RE = re.compile(r"\b(SE\s+\w+)\s+(?:Nomor\s+)?(\d[\d.]*/[\d.]+/[A-Z]+)\b")
_MK_RE = re.compile(r"\bMK\s+(?:Nomor\s+)?(\d+)/PUU-([IVXL]+)/(\d{4})\b", re.IGNORECASE)
_SKB_RE = re.compile(r"\bSKB\b(?:\s+Netralitas(?:\s+ASN)?)?\s+(\d{4})\b")
REVIEW_MAX_AGE_MONTHS = 12


def regulation_names(text: str) -> list[str]:
    """The regulations `text` names, in a canonical form ("PP 94/2021", "MK 65/PUU-XXI/2023")."""
    found: list[tuple[int, str]] = []
    for m in _REG_RE.finditer(text):
        kind = " ".join(m.group(1).split()).lower()
        kind = _REG_SPELLING[_REG_ALIASES.get(kind, kind)]
        found.append((m.start(), f"{kind} {int(m.group(2))}/{m.group(3)}"))
    for m in _REG_LETTER_RE.finditer(text):
        kind = " ".join(m.group(1).split())
        kind = _REG_SPELLING.get(kind.lower(), kind)
        found.append((m.start(), f"{kind} {m.group(2)}"))
    for m in _MK_RE.finditer(text):
        found.append((m.start(), f"MK {int(m.group(1))}/PUU-{m.group(2).upper()}/{m.group(3)}"))
    for m in _SKB_RE.finditer(text):
        found.append((m.start(), f"SKB {m.group(1)}"))
    return [name for _, name in sorted(found)]


def regulation_sources(sources: dict[str, Source]) -> dict[str, set[str]]:
    """Map each regulation name to the ids of the sources that are that regulation."""
    out: dict[str, set[str]] = {}
    for source in sources.values():
        if source.kind not in ("regulation", "decision"):
            continue  # a report about a law is not the law
        names = regulation_names(source.short) or regulation_names(source.title)
        if names:
            out.setdefault(names[0], set()).add(source.id)
    return out


def _check_citations_and_lexicon(root: Path, intents: dict[str, Intent],
                                 readers: dict[str, _FileReader],
                                 raw_items: dict[str, dict[str, Any]],
                                 sources: dict[str, Source], lexicon: Lexicon,
                                 normalizer: Normalizer, problems: list[Problem]) -> None:
    """Every regulation named in basis/sanction is cited; lexicon rewrites keep agencies."""
    by_name = regulation_sources(sources)
    for intent in intents.values():
        reader, item = readers[intent.id], raw_items[intent.id]
        cited = set(intent.sources)
        for field, texts in (("basis", intent.basis), ("sanction", (intent.sanction or "",))):
            for name in dict.fromkeys(n for t in texts for n in regulation_names(t)):
                owners = by_name.get(name)
                if not owners:
                    reader.add(item, intent.id, field,
                               f"names '{name}', which no source in sources.yaml is")
                elif not owners & cited:
                    reader.add(item, intent.id, field,
                               f"names '{name}': cite source {' or '.join(sorted(owners))}")
    for reason, word in _lexicon_collisions(intents, sources, lexicon, normalizer):
        reader = _FileReader(root / "lexicon.yaml", root, [])
        data = reader.load()
        replace = data.get("replace") if isinstance(data, dict) else None
        line = reader.line(replace, word) if isinstance(replace, dict) else 0
        problems.append(Problem(reader.name, line, "lexicon", "replace", reason))


def agency_words(sources: dict[str, Source]) -> frozenset[str]:
    """Names of bodies that publish sources (BKN, Bawaslu, KPU ...): outside parentheses."""
    words: set[str] = set()
    for source in sources.values():
        publisher = re.sub(r"\([^)]*\)", " ", source.publisher or "")
        words.update(w for w in re.findall(r"[a-z]+", publisher.lower()) if len(w) >= 3)
    return frozenset(words)


def _lexicon_collisions(intents: dict[str, Intent], sources: dict[str, Source],
                        lexicon: Lexicon, normalizer: Normalizer) -> list[tuple[str, str]]:
    """Replace entries that turn an agency's name, or one intent's keyword, into another sense.

    1. A word that names a body publishing a source (BKN, Bawaslu, KPU ...) is never rewritten
       into a different word ("bkn" -> "bukan" turned the agency into a negation).
    2. A word that is a keyword of one answer intent is never rewritten into a keyword of an
       answer intent with a different verdict ("panwascam" -> "bawaslu" sent a bersyarat
       question about the Panwaslu kecamatan to a boleh answer about Bawaslu's accounts).
    """
    out: list[tuple[str, str]] = []
    agencies = agency_words(sources)
    answer = [i for i in intents.values() if i.verdict is not None]
    keyword_terms = {i.id: set(normalizer.terms(" ".join(i.keywords))) for i in answer}
    for word, target in sorted(lexicon.replace.items()):
        if target.split() == [word]:
            continue
        if word in agencies:
            out.append((f"'{word}' names a body that publishes sources; it must not become "
                        f"'{target}'", word))
            continue
        terms = set(normalizer.terms(word))
        for owner in (i for i in answer if word in i.keywords):
            for other in answer:
                clash = terms & keyword_terms[other.id]
                if other.verdict is not owner.verdict and clash:
                    out.append((f"'{word}' (keyword of {owner.id}, {owner.verdict.value}) "
                                f"becomes '{target}', a keyword of {other.id} "
                                f"({other.verdict.value})", word))
                    break
            else:
                continue
            break
    return out


def stale_reviews(kb: KnowledgeBase, today: dt.date,
                  months: int = REVIEW_MAX_AGE_MONTHS) -> list[str]:
    """Warnings for intents whose `reviewed:` date is missing or older than `months` months."""
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    day = min(today.day, 28 if month + 1 == 2 else 30 if month + 1 in (4, 6, 9, 11) else 31)
    cutoff = dt.date(year, month + 1, day)
    out = []
    for intent in kb.intents.values():
        if intent.reviewed is None:
            out.append(f"{intent.file}: {intent.id}: reviewed: missing (re-check it against "
                       "the sources and set the date)")
        elif intent.reviewed < cutoff:
            out.append(f"{intent.file}: {intent.id}: reviewed: {intent.reviewed.isoformat()} is "
                       f"more than {months} months before {today.isoformat()}; re-check it")
    return out
