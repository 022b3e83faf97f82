"""The command line: ask (text and JSON, stdin), check and eval, run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.store import Store
from tests.conftest import KNOWLEDGE_DIR, ROOT

REPLY_FIELDS = {"kind", "intent", "verdict", "confidence", "text", "sources", "alternatives",
                "buttons"}


def _run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TELEGRAM_BOT_TOKEN": "", **(env or {})}
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, timeout=120, env=environment, check=False)


def test_ask_json_prints_the_reply_contract() -> None:
    result = _run("ask", "--json", "boleh like postingan paslon di ig?")
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert set(reply) == REPLY_FIELDS
    assert reply["kind"] == "answer" and reply["verdict"] == "dilarang"


def test_ask_reads_one_question_per_line() -> None:
    result = _run("ask", "--json", stdin="boleh nyoblos?\nresep rendang\n\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[0]["verdict"] == "boleh"
    assert lines[1]["verdict"] is None and lines[2]["kind"] == "fallback"


def test_ask_plain_text() -> None:
    result = _run("ask", "siapa yang mengawasi netralitas asn?")
    assert result.returncode == 0
    assert "INFO" in result.stdout


def test_check_ok_and_broken(tmp_path: Path) -> None:
    ok = _run("check")
    assert ok.returncode == 0 and ok.stdout.startswith("OK:")
    broken = tmp_path / "knowledge"
    subprocess.run(["cp", "-r", str(KNOWLEDGE_DIR), str(broken)], check=True)
    (broken / "intents" / "zz.yaml").write_text("intents:\n  - id: Bad\n", encoding="utf-8")
    result = _run("check", env={"KNOWLEDGE_DIR": str(broken)})
    assert result.returncode == 1
    assert "knowledge/intents/zz.yaml:2: Bad: id: must be snake_case" in result.stderr


def test_eval_prints_the_figures(tmp_path: Path) -> None:
    labelled = tmp_path / "q.yaml"
    labelled.write_text(
        "- {q: 'boleh foto bareng paslon?', verdict: dilarang, topic: foto, must: [foto]}\n"
        "- {q: 'resep rendang', verdict: luar, topic: luar, must: []}\n", encoding="utf-8")
    result = _run("eval", str(labelled))
    assert result.returncode == 0, result.stderr
    assert "correct (verdict + must keywords): 100.0%" in result.stdout
    assert "harmful (boleh for dilarang): 0" in result.stdout
    assert "out-of-scope rejected: 100.0%" in result.stdout


def test_eval_reports_a_malformed_label_file(tmp_path: Path) -> None:
    labelled = tmp_path / "bad.yaml"
    labelled.write_text("- {q: 'x', verdict: mungkin}\n", encoding="utf-8")
    result = _run("eval", str(labelled))
    assert result.returncode == 2
    assert "item 1: verdict" in result.stderr


def test_console_chat_answers_quits_and_uses_the_store(tmp_path: Path) -> None:
    db = tmp_path / "console.sqlite3"
    result = _run("run", stdin="boleh foto bareng paslon?\nqwerty zxcvb asdfg\n/keluar\n",
                  env={"DB_PATH": str(db)})
    assert result.returncode == 0, result.stderr
    assert "DILARANG" in result.stdout
    assert "Terima kasih" in result.stdout
    store = Store(db)
    assert store.totals()["questions"] == 2
    assert [m["text"] for m in store.recent_misses()] == ["qwerty zxcvb asdfg"]
