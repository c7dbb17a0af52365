"""Traffic files become conversations the way `triage replay --turns` promises."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from commands.clients.replay import edge_http_base, read_traffic

if TYPE_CHECKING:
    from pathlib import Path


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    return path


def test_rows_without_a_conversation_are_grouped_by_turns(tmp_path: Path) -> None:
    traffic = read_traffic(_write(tmp_path / "t.jsonl", [{"text": f"m{i}"} for i in range(7)]), turns=3)
    assert [[row.text for row in rows] for rows in traffic] == [["m0", "m1", "m2"], ["m3", "m4", "m5"], ["m6"]]


def test_rows_with_a_conversation_are_grouped_by_it_in_file_order(tmp_path: Path) -> None:
    rows = [{"text": "a1", "conversation": "a"}, {"text": "b1", "conversation": "b"},
            {"text": "a2", "conversation": "a", "label": "shipping"}]
    traffic = read_traffic(_write(tmp_path / "t.jsonl", rows), turns=1)
    assert [[row.text for row in rows] for rows in traffic] == [["a1", "a2"], ["b1"]]
    assert traffic[0][1].label == "shipping"


@pytest.mark.parametrize(("url", "base"), [
    ("ws://127.0.0.1:8080/v1/chat", "http://127.0.0.1:8080"),
    ("wss://shop.example/edge/v1/chat", "https://shop.example/edge"),
])
def test_the_edge_http_root_comes_from_its_websocket_url(url: str, base: str) -> None:
    assert edge_http_base(url) == base
