"""The `triage` command: its families register every command, errors exit 2, `build` reports language coverage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from commands.main import main
from tests.conftest import DEMO_CATALOG

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_build_reports_the_languages_the_vote_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--catalog", str(DEMO_CATALOG), "--out", str(tmp_path / "bundle")]) == 0
    report = " ".join(capsys.readouterr().err.split())
    assert "bundle ready" in report
    assert "intent examples: en 171; scored by the class-mean vote, checked by the regression" in report
    assert "de 18, fr 11" in report


def test_every_command_family_registers_its_commands() -> None:
    from commands.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == {"build", "import", "eval", "calibrate", "edge", "cloud", "demo", "deploy", "distill",
                                "replay", "token", "report", "chat", "dialogues", "shop", "agent"}


def test_a_mistake_the_user_can_fix_exits_2_with_the_message(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TRIAGE_CONFIG", raising=False)
    monkeypatch.delenv("TRIAGE_EDGE__SESSION_SECRET", raising=False)
    assert main(["token", "--customer", "c-1"]) == 2
    assert "no session secret" in capsys.readouterr().err
