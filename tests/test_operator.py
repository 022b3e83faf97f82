"""The operator's side (issue 9): start-up errors in one line with exit code 2, one instance per
database, a 409 from getUpdates in one line, and a CLI that behaves in pipes and terminals.

The CLI runs as real processes (`python main.py …`); the Telegram cases drive the real
Application against the local fake Bot API.
"""

from __future__ import annotations

import logging
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, config_warnings, load_settings
from bot.dialogue import Dialogue
from bot.instance import InstanceError, instance_lock, lock_path
from bot.knowledge import KnowledgeBase
from tests.conftest import ROOT
from tests.fake_bot_api import FakeBotApi, conflict
from tests.telegram_harness import ManualClock, running_bot, settings_for

NO_DOTENV = Path("/nonexistent/.env")
QUESTION = "boleh gak pns foto bareng paslon?"


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "WEBHOOK_", "WHATSAPP_", "BROADCAST_", "DB_"))}
    return {**env, "TELEGRAM_BOT_TOKEN": "", **values}


def _run(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, timeout=120, env=_env(**env), check=False)


def _one_line_exit_2(result: subprocess.CompletedProcess[str], needle: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], output


# -- configuration ----------------------------------------------------------------------------
def test_a_malformed_base_url_is_a_configuration_error() -> None:
    for bad in ("not a url", "127.0.0.1:8081", "ftp://host", "http://"):
        with pytest.raises(ConfigError, match=r"^TELEGRAM_BASE_URL: must be an http"):
            load_settings({"TELEGRAM_BASE_URL": bad}, dotenv=NO_DOTENV)
    for good in ("http://127.0.0.1:8081", "https://tg.example.org/bot"):
        assert load_settings({"TELEGRAM_BASE_URL": good},
                             dotenv=NO_DOTENV).telegram_base_url == good


def test_a_broadcast_rate_above_telegrams_limit_is_warned() -> None:
    fast = load_settings({"TELEGRAM_BOT_TOKEN": "1:x", "BROADCAST_RATE": "100"},
                         dotenv=NO_DOTENV)
    assert [w.split(":")[0] for w in config_warnings(fast)] == ["BROADCAST_RATE"]
    assert "30/s" in config_warnings(fast)[0]
    ok = load_settings({"TELEGRAM_BOT_TOKEN": "1:x", "BROADCAST_RATE": "30"}, dotenv=NO_DOTENV)
    assert config_warnings(ok) == []


def test_configuration_errors_exit_2_one_line_each() -> None:
    result = _run("run", TELEGRAM_BOT_TOKEN="1:abc", TELEGRAM_BASE_URL="not a url")
    _one_line_exit_2(result, "configuration error: TELEGRAM_BASE_URL")


def test_the_rate_warning_is_logged_at_start(fake_api: FakeBotApi, tmp_path: Path) -> None:
    result = _run("run", BROADCAST_RATE="100", TELEGRAM_BOT_TOKEN="999:wrong",
                  TELEGRAM_BASE_URL=fake_api.url, DB_PATH=str(tmp_path / "db.sqlite3"))
    warnings = [line for line in result.stderr.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "BROADCAST_RATE: 100/s is above Telegram's 30/s" in warnings[0]


# -- start-up ---------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["parent_is_a_file", "database_is_a_folder"])
def test_an_unusable_db_path_exits_2_in_one_line(tmp_path: Path, where: str) -> None:
    if where == "parent_is_a_file":
        (tmp_path / "file").write_text("x", encoding="utf-8")
        db = tmp_path / "file" / "bot.sqlite3"
    else:
        db = tmp_path / "bot.sqlite3"
        db.mkdir()
    result = _run("run", stdin="/keluar\n", DB_PATH=str(db))
    _one_line_exit_2(result, "start-up error: DB_PATH: cannot")
    assert str(db) in result.stderr


def test_a_rejected_token_is_one_line_without_a_traceback(fake_api: FakeBotApi,
                                                         tmp_path: Path) -> None:
    result = _run("run", TELEGRAM_BOT_TOKEN="999999:WRONG-secret", TELEGRAM_BASE_URL=fake_api.url,
                  DB_PATH=str(tmp_path / "bot.sqlite3"), LOG_LEVEL="INFO")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output and "WRONG-secret" not in output
    errors = [line for line in output.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Telegram rejected the bot token" in errors[0], output


def test_the_lock_refuses_a_second_holder_and_is_released(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    with instance_lock(db) as path:
        assert path == lock_path(db) and path.read_text(encoding="ascii").strip() == str(
            os.getpid())
        with pytest.raises(InstanceError, match=f"pid {os.getpid()}"), instance_lock(db):
            pass
    with instance_lock(db):  # released on leaving
        pass


def test_a_second_instance_on_the_same_database_refuses_to_start(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    first = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env=_env(DB_PATH=str(db)),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert "Tanya Netral" in first.stdout.readline()  # the console is up: it holds the lock
        second = _run("run", stdin="/keluar\n", DB_PATH=str(db))
        _one_line_exit_2(second, f"start-up error: another instance (pid {first.pid})")
        first.communicate("/keluar\n", timeout=60)
        assert first.returncode == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    third = _run("run", stdin="/keluar\n", DB_PATH=str(db))  # the lock went with the first
    assert third.returncode == 0, third.stderr


# -- the command line -------------------------------------------------------------------------
def test_no_command_runs_the_bot(tmp_path: Path) -> None:
    result = _run(stdin=f"{QUESTION}\n/keluar\n", DB_PATH=str(tmp_path / "db.sqlite3"))
    assert result.returncode == 0, result.stderr
    assert "DILARANG" in result.stdout


def test_ask_with_a_terminal_and_no_question_prints_usage() -> None:
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "main.py", "ask"], cwd=ROOT, env=_env(),
                                stdin=terminal, capture_output=True, text=True, timeout=60,
                                check=False)
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("usage: main.py ask") and result.stdout == ""


def test_eval_without_a_file_says_so_and_exits_2() -> None:
    result = _run("eval")
    assert result.returncode == 2
    assert "name one or more labelled files" in result.stderr


def test_a_closed_pipe_ends_ask_quietly() -> None:
    process = subprocess.Popen([sys.executable, "main.py", "ask"], cwd=ROOT, env=_env(),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write((f"{QUESTION}\n" * 400).encode())  # far more than a pipe buffers
    process.stdin.close()
    assert process.stdout.readline()  # `| head -1`
    process.stdout.close()
    assert process.wait(timeout=120) == 0
    assert process.stderr is not None and process.stderr.read().decode() == ""


# -- 409 Conflict -----------------------------------------------------------------------------
async def test_a_409_conflict_is_reported_in_one_line(
        fake_api: FakeBotApi, kb: KnowledgeBase, dialogue: Dialogue, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(fake_api, tmp_path / "bot.sqlite3")
    fake_api.fail(conflict(), method="getUpdates", times=2)
    with caplog.at_level(logging.DEBUG):
        async with running_bot(fake_api, kb, settings, ManualClock(), dialogue) as bot:
            since = fake_api.mark()
            fake_api.send_text(7, QUESTION)  # delivered once the other poller is gone
            assert (await bot.message(7, since)).text.startswith("⛔ DILARANG")
    reports = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in reports] == [
        "409 Conflict from getUpdates: another process polls this bot with the same token; "
        "stop it (this one receives no updates meanwhile)"]
    assert reports[0].exc_info is None
    assert [r.status for r in fake_api.requests("getUpdates")][:2] == [409, 409]


def test_a_broken_knowledge_base_stops_the_bot_with_exit_2(kb_copy: Path, tmp_path: Path) -> None:
    topics = kb_copy / "topics.yaml"
    topics.write_text(topics.read_text(encoding="utf-8").replace("\n  - ", "\n\t- ", 1),
                      encoding="utf-8")
    result = _run("run", stdin="/keluar\n", KNOWLEDGE_DIR=str(kb_copy),
                  DB_PATH=str(tmp_path / "db.sqlite3"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "invalid YAML" in result.stderr and len(result.stderr.splitlines()) == 3
    assert _run("check", KNOWLEDGE_DIR=str(kb_copy)).returncode == 1  # check keeps its 1
