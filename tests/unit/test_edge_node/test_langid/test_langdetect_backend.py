"""langdetect is imported, and its profiles read, only when it is the chosen backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]

_PROBE = """
import sys
from edge_node.langid import LanguageIdentifier, OutsideCatalogLanguages
LanguageIdentifier(["en", "de"], "en").identify("Wann kommt meine Bestellung endlich an?")
OutsideCatalogLanguages({"en"}).outside("Wann kommt meine Bestellung endlich an?")
print("langdetect" in sys.modules)
LanguageIdentifier(["en", "de"], "en", backend="langdetect").identify("Wann kommt meine Bestellung endlich an?")
print("langdetect" in sys.modules)
"""


def test_langdetect_is_loaded_only_when_chosen() -> None:
    # A fresh interpreter: other tests in this process may have chosen langdetect already.
    result = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True,
                            timeout=120, cwd=ROOT)
    assert result.stdout.split() == ["False", "True"]
