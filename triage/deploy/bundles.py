"""``triage deploy build``: a signed bundle holding only one region's languages.

Same answers in those languages, a smaller index. An intent whose examples would all be dropped
keeps its default-language examples: the encoder is multilingual, so they still recognise it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import msgspec

from triage.bundle.build import build_bundle
from triage.bundle.manifest import read_manifest
from triage.bundle.signing import SigningKey, sign_bundle
from triage.catalog import Catalog, load_catalog, write_catalog
from triage.deploy.regions import Fleet, RegionsError

__all__ = ["build_region_bundle", "bundle_size", "restrict_catalog"]


def _keep(per_lang: dict[str, list[str]], languages: set[str], fallback: str) -> dict[str, list[str]]:
    kept = {lang: texts for lang, texts in per_lang.items() if lang in languages}
    if not kept and fallback in per_lang:
        kept = {fallback: per_lang[fallback]}
    return kept


def restrict_catalog(catalog: Catalog, languages: list[str]) -> Catalog:
    wanted = set(languages)
    unknown = wanted - set(catalog.storefront.languages)
    if unknown:
        raise RegionsError(f"languages {sorted(unknown)} are not in catalog {catalog.storefront.id!r} "
                           f"(it has {catalog.storefront.languages}); remove them from the region")
    default = catalog.storefront.default_language
    region_default = default if default in wanted else languages[0]
    intents = [msgspec.structs.replace(
        intent, examples=_keep(intent.examples, wanted, default),
        answers={lang: text for lang, text in intent.answers.items() if lang in wanted})
        for intent in catalog.intents]
    faqs = [msgspec.structs.replace(
        entry, questions=_keep(entry.questions, wanted, default),
        answers={lang: text for lang, text in entry.answers.items() if lang in wanted})
        for entry in catalog.faqs]
    sf = catalog.storefront
    storefront = msgspec.structs.replace(
        sf, languages=[lang for lang in sf.languages if lang in wanted], default_language=region_default,
        out_of_scope={lang: texts for lang, texts in sf.out_of_scope.items() if lang in wanted},
        fallback={lang: text for lang, text in sf.fallback.items() if lang in wanted})
    actions = [msgspec.structs.replace(action, replies={
        outcome: {lang: text for lang, text in texts.items() if lang in wanted}
        for outcome, texts in action.replies.items()}) for action in catalog.actions]
    prompts = {key: {lang: text for lang, text in texts.items() if lang in wanted}
               for key, texts in catalog.prompts.items()}
    return Catalog(storefront=storefront, intents=intents, faqs=faqs, actions=actions, prompts=prompts)


def bundle_size(bundle: Path) -> int:
    return sum(p.stat().st_size for p in Path(bundle).iterdir() if p.is_file())


def build_region_bundle(fleet: Fleet, region: str, key: SigningKey, out_root: Path | None = None) -> Path:
    """Build, sign and place the region's bundle at ``<bundle_dir>/<region>/<build key>``; returns it."""
    languages = fleet.region(region).languages
    catalog = restrict_catalog(load_catalog(Path(fleet.fleet.catalog)), languages)
    root = Path(out_root or fleet.fleet.bundle_dir) / region
    with tempfile.TemporaryDirectory() as tmp:
        write_catalog(catalog, Path(tmp) / "catalog")
        built = build_bundle(Path(tmp) / "catalog", Path(tmp) / "bundle")
        key_name = read_manifest(built).build_key[:16]
        final = root / key_name
        if not final.exists():
            root.mkdir(parents=True, exist_ok=True)
            staging = root / f".{key_name}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(built, staging)
            staging.rename(final)
    sign_bundle(final, key)  # (re)sign: the same build under a rotated key, and a new release
    return final
