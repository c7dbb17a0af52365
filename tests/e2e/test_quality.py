"""The quality bars of DESIGN.md, measured with the protocols of ../shared/data/README.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.quality import storefront_mix, xsid_cross_lingual

pytestmark = pytest.mark.slow


def test_storefront_mix_in_scope_accuracy_and_out_of_scope_recall_at_one_operating_point(tmp_path: Path) -> None:
    report = storefront_mix(tmp_path)
    assert report.in_scope_accuracy >= 0.98
    assert report.oos_recall is not None and report.oos_recall >= 0.95
    assert report.oos_precision is not None and report.oos_precision >= 0.85


def test_english_only_catalog_transfers_to_other_languages(tmp_path: Path) -> None:
    # The bar (>= 0.88 at the calibrated out-of-scope operating point) holds for de/it/tr/zh
    # (0.91-0.93); nl (0.87) is guarded against regression only (docs/benchmarks.md).
    accuracy = xsid_cross_lingual(tmp_path, targets=("de", "it", "nl", "tr", "zh"))
    assert accuracy["en"] >= 0.88
    for lang in ("de", "it", "tr", "zh"):
        assert accuracy[lang] >= 0.88, (lang, accuracy)
    assert accuracy["nl"] >= 0.84, accuracy
