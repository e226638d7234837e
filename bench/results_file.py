"""bench/RESULTS.md is written by several benchmarks, each owning one ``## `` section."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(results: Path, section: str, lines: list[str]) -> None:
    """Replace ``section`` of ``results`` (up to the next ``## ``) with ``lines`` or, when
    there is none, put it before the raw measurements (or at the end)."""
    text = results.read_text() if results.exists() else "# netanatomy — benchmark results\n"
    block = "\n".join(lines)
    pattern = re.compile(rf"^{re.escape(section)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    elif "\n## Raw measurements" in text:
        text = text.replace("\n## Raw measurements", "\n" + block + "\n## Raw measurements", 1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    results.write_text(text)
