"""What a started edge keeps from the cyclic garbage collector, and what a bundle swap gives back."""

from __future__ import annotations

import gc
import weakref
from typing import TYPE_CHECKING

from edge_node.service import EdgeService
from triage.config import EdgeConfig

if TYPE_CHECKING:
    from pathlib import Path


async def test_a_started_edge_freezes_what_it_loaded_and_a_swap_still_frees_the_old_bundle(
        demo_bundle: Path, tmp_path: Path) -> None:
    edge = EdgeService.from_bundle(demo_bundle, EdgeConfig(store=str(tmp_path / "edge.db")))
    await edge.start()
    try:
        assert gc.get_freeze_count() > 10_000  # the bundle and the libraries: out of every full pass
        old_bundle, old_understanding = weakref.ref(edge.knowledge), weakref.ref(edge.understanding)
        await edge.reload(demo_bundle)
        assert edge.knowledge is not old_bundle()
        assert old_bundle() is None and old_understanding() is None  # not kept alive by the freeze
        assert gc.get_freeze_count() > 10_000
    finally:
        await edge.stop()
        gc.unfreeze()
