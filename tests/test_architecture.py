"""The dependency rule: only channels import a transport; only the scheduler imports APScheduler."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

BOT = ROOT / "bot"
# Telegram (PTB and its tornado webhook), WhatsApp (pywa, its FastAPI/Starlette server, uvicorn)
# and the HTTP client under both.
TRANSPORTS = {"telegram", "httpx", "tornado", "pywa", "pywa_async", "fastapi", "starlette",
              "uvicorn", "anyio"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_a_transport() -> None:
    offenders = [
        str(p.relative_to(ROOT)) for p in BOT.rglob("*.py")
        if "channels" not in p.parts and _imports(p) & TRANSPORTS
    ]
    assert offenders == []


def test_only_the_scheduler_imports_apscheduler() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in BOT.rglob("*.py")
                 if p.name != "scheduler.py" and "apscheduler" in _imports(p)]
    assert offenders == []


def test_nothing_reads_the_environment_at_import_time() -> None:
    for path in BOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.Expr):
                assert "os.environ" not in ast.unparse(node), path
                assert "getenv" not in ast.unparse(node), path


def test_core_never_imports_a_channel() -> None:
    offenders = []
    for path in BOT.rglob("*.py"):
        if "channels" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot.channels"):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_each_channel_imports_only_its_own_transport() -> None:
    own = {"telegram": {"telegram", "tornado"}, "whatsapp": {"pywa", "pywa_async", "fastapi",
                                                            "starlette", "uvicorn"}}
    offenders = []
    for path in (BOT / "channels").rglob("*.py"):
        channel = path.relative_to(BOT / "channels").parts[0].removesuffix(".py")
        foreign = set().union(*(names for name, names in own.items() if name != channel))
        if _imports(path) & foreign:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
