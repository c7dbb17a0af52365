"""`triage build` tells a shop which languages its examples cover well enough."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.conftest import DEMO_CATALOG
from triage.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_build_reports_the_languages_the_vote_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--catalog", str(DEMO_CATALOG), "--out", str(tmp_path / "bundle")]) == 0
    report = " ".join(capsys.readouterr().err.split())
    assert "bundle ready" in report
    assert "intent examples: en 171; scored by the class-mean vote, checked by the regression" in report
    assert "de 18, fr 11" in report
