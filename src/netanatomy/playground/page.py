"""The playground page: the ``playground.html`` template filled by
:func:`netanatomy.render.html.page`, with the starting spec in its editor.

The page's data element holds the starting spec's payload (or ``null`` when that spec has
an error); the spec's text goes into ``<textarea id="editor">`` and the ``--set`` items
into ``<input id="set">``, both HTML-escaped, so that the page shows them before any
script runs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

EDITOR = re.compile(r'(<textarea\b[^>]*\bid="editor"[^>]*>)(.*?)(</textarea>)', re.DOTALL)
SET_INPUT = re.compile(r'<input\b[^>]*\bid="set"[^>]*?/?>')


def playground_page(text: str, settings: Sequence[str], answer: Mapping[str, Any]) -> str:
    """The page for spec ``text`` and its first ``answer`` (``{"ok": ..., ...}``)."""
    from netanatomy.render.html import AssetError, page

    document = page(answer.get("report") if answer.get("ok") else None,
                    template="playground.html")
    document, found = EDITOR.subn(lambda m: m.group(1) + "\n" + html.escape(text, quote=False)
                                  + m.group(3), document, count=1)
    if not found:
        raise AssetError("the playground template has no <textarea id=\"editor\">")
    return SET_INPUT.sub(lambda m: with_value(m.group(), " ".join(settings)), document,
                         count=1)


def with_value(tag: str, value: str) -> str:
    """``tag`` (an ``<input ...>``) with its ``value`` attribute set to ``value``."""
    tag = re.sub(r'\svalue="[^"]*"', "", tag)
    end = "/>" if tag.endswith("/>") else ">"
    return tag[:-len(end)].rstrip() + f' value="{html.escape(value)}"' + end
