"""Every command's table comes from one renderer: columns in order, numbers right-aligned, JSON on request."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import msgspec

from commands.tables import print_metrics, print_report, print_table

if TYPE_CHECKING:
    import pytest


class _Report(msgspec.Struct):
    edge_share: float
    latency_ms: dict[str, dict[str, float]]


def test_a_table_keeps_the_columns_in_order_and_aligns_the_named_ones_right(
        capsys: pytest.CaptureFixture[str]) -> None:
    print_table("fleet", ("name", "restarts"), [("eu-west-0", "1"), ("cloud-0", "12")], right={"restarts"})
    lines = capsys.readouterr().out.splitlines()
    assert "fleet" in lines[0]
    header = next(line for line in lines if "name" in line)
    assert header.index("name") < header.index("restarts")
    one = next(line for line in lines if "eu-west-0" in line)
    twelve = next(line for line in lines if "cloud-0" in line)
    assert one.index("1 ") == twelve.index("12 ") + 1  # right-aligned: the last digits line up


def test_metric_values_are_shown_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    print_metrics("eval", {"accuracy": 0.9, "by_lang": {"de": 1}})
    out = capsys.readouterr().out
    assert "metric" in out and "value" in out
    assert '{"de": 1}' in out and "0.9" in out


def test_a_report_prints_as_indented_json_or_as_a_metric_table(capsys: pytest.CaptureFixture[str]) -> None:
    report = _Report(0.75, {"edge_answer": {"p50": 3.5}})
    print_report(report, True, "ignored")
    assert json.loads(capsys.readouterr().out) == {"edge_share": 0.75, "latency_ms": {"edge_answer": {"p50": 3.5}}}
    print_report(report, False, "cost report")
    out = capsys.readouterr().out
    assert "cost report" in out and "edge_share" in out and '{"edge_answer": {"p50": 3.5}}' in out
