"""Dispute procedures are catalog data: the demo's encode POLICY.md in every language, and a mistake in
one fails ``triage build`` naming the file, the field and the fix before anything is deployed."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from commands.main import main
from tests.conftest import DEMO_CATALOG
from triage.catalog.load import load_catalog_procedures
from triage.catalog.procedures import cue_pattern, parse_condition

if TYPE_CHECKING:
    from pathlib import Path

LANGS = {"en", "de", "fr", "es", "it", "pt", "nl", "pl"}


def test_the_demo_procedures_cite_every_dispute_rule_of_the_policy_and_speak_every_language() -> None:
    _, procedures = load_catalog_procedures(DEMO_CATALOG)
    assert procedures is not None
    assert [p.name for p in procedures.procedures] == [
        "to_person", "charged_twice", "where_is_refund", "parcel_not_arrived", "damaged_item"]
    rules = {step.rule for p in procedures.procedures for step in p.step}
    assert rules >= {"4", "5", "6", "7", "8", "10", "11", "13"}  # 1, 9 and 12 are the engine's; 2-3 the edge's
    assert procedures.common.limits.max_auto_refund == "150.00"  # rule 9's limit, enforced by the engine
    for p in procedures.procedures:
        for step in p.step:
            assert set(step.reply) == LANGS, (p.name, step.rule)
            assert not (step.person and step.writes), "a hand-off moves no money"


def test_conditions_are_typed_facts() -> None:
    assert parse_condition("days_since_delivery > 30").value == Decimal(30)
    assert parse_condition("not item.in_stock").value is False
    assert parse_condition("carrier_status == 'lost'").value == "lost"


def test_a_cue_may_leave_up_to_four_words_between_its_words() -> None:
    charged = cue_pattern(["zweimal * abgebucht"])
    assert charged.search("Mir wurde für Bestellung 10243 zweimal 49,85 € abgebucht")
    assert not charged.search("zweimal habe ich gefragt, ob das Paket irgendwann noch abgebucht")


def _copy_with(tmp_path: Path, file: str, old: str, new: str) -> Path:
    folder = tmp_path / "shop"
    shutil.copytree(DEMO_CATALOG, folder)
    path = folder / "procedures" / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("damaged_item.toml", 'rule = "8"\nwhen', 'rule = "8"\nrefund_to = "card"\nwhen',
     r"damaged_item.toml: Object contains unknown field `refund_to` - at `\$.procedure.step\[0\]` \(fix:"),
    ("damaged_item.toml", '"days_since_delivery > 30"', '"days_since_delivry > 30"',
     r"damaged_item.toml: procedure 'damaged_item': step\[1\].when\[0\]: 'days_since_delivry > 30': unknown fact "
     r"'days_since_delivry' \(fix: use one of"),
    ("damaged_item.toml", '"days_since_delivery > 30"', "\"days_since_delivery > 'thirty'\"",
     r"step\[1\].when\[0\]: .*days_since_delivery is a number \(fix: compare it with a number"),
    ("parcel_not_arrived.toml", "\"carrier_status == 'lost'\"", "\"carrier_status == 'missing'\"",
     r"carrier_status is never 'missing' \(fix: use one of"),
    ("charged_twice.toml", 'reply.pl = "Masz rację', '# reply.pl = "Masz rację',
     r"charged_twice.toml: procedure 'charged_twice': step\[0\].reply.pl is missing \(fix: write it in every "
     r"storefront language"),
    ("to_person.toml", "{case_id}.\"\nreply.de", "{case}.\"\nreply.de",
     r"step\[0\].reply.en: \{case\} is not a field of this reply \(fix: use one of"),
    ("to_person.toml", "person = true", "person = true\nwrites = [\"refund\"]\nrefund = \"order.total\"",
     r"a step that hands the case to a person writes nothing"),
])
def test_a_procedure_file_with_an_error_fails_triage_build_naming_the_file_the_field_and_the_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str, old: str, new: str, expected: str) -> None:
    folder = _copy_with(tmp_path, file, old, new)
    assert main(["build", "--catalog", str(folder), "--out", str(tmp_path / "bundle")]) == 2
    message = "".join(capsys.readouterr().err.split())  # the console wraps long paths anywhere
    assert re.search(expected.replace(" ", ""), message), message
    assert not (tmp_path / "bundle").exists()
