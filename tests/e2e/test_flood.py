"""Floods at the limits while shoppers chat: a hello flood from one address, unauthenticated health
streams past the cloud's budget and tokenless escalations; every shopper message is still answered
(``bench/flood.py`` has the latency side by side)."""

from __future__ import annotations

import pytest

from bench.flood import failures, run

pytestmark = pytest.mark.slow


def test_shoppers_are_answered_while_hellos_and_unauthenticated_calls_flood_at_the_limits(demo_bundle, llm_folder,
                                                                                            tmp_path):
    result = run(tmp_path, demo_bundle, llm_folder, count=4, messages=2)
    assert failures(result, 4, 2) == []
    floods = result["floods"]
    assert floods["hellos_refused"] > floods["hellos_welcomed"] and floods["tokenless_refused"] > 0
