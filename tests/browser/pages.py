"""Reading the pages' DOM (the contract in render/assets: ``g.na-node``, ``#layers``, ...)
from the tests, and the payload arithmetic the tests compare it with."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
"""Where each page's screenshot goes (gitignored), for people to look at."""

NODES = """() => [...document.querySelectorAll('#graph g.na-node')].map(g => ({
    id: g.dataset.nodeId, kind: g.dataset.kind, path: g.dataset.path,
    macs: g.dataset.macs, params: g.dataset.params}))"""

ROWS = """(column) => {
    const heads = [...document.querySelectorAll('#layers thead th')];
    const index = heads.findIndex(th => th.dataset.col === column);
    return [...document.querySelectorAll('#layers tbody tr[data-path]')]
        .filter(tr => !tr.hidden)
        .map(tr => {
            const cell = tr.querySelector(`td[data-col="${column}"]`) || tr.children[index];
            return [tr.dataset.path, cell ? cell.dataset.value : undefined];
        });
}"""


def snapshot(page: Any, name: str) -> None:
    """A screenshot of ``page`` now, as ``SCREENSHOTS/<name>.png`` (besides the one each
    page gets when its test ends)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def nodes(page: Any) -> list[dict[str, str]]:
    """The graph's drawn nodes: id, kind, path, macs, params (the data-* text)."""
    found: list[dict[str, str]] = page.evaluate(NODES)
    return found


def node_ids(page: Any, *kinds: str) -> set[str]:
    return {node["id"] for node in nodes(page) if not kinds or node["kind"] in kinds}


def rows(page: Any, column: str) -> list[tuple[str, str]]:
    """``(path, data-value of column)`` of the table's visible rows, in their order."""
    return [tuple(row) for row in page.evaluate(ROWS, column)]   # type: ignore[misc]


def wait_for_nodes(page: Any, present: set[str] = frozenset(),  # type: ignore[assignment]
                   absent: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Wait until every id of ``present`` is drawn and none of ``absent``."""
    page.wait_for_function(
        """([present, absent]) => {
            const ids = new Set([...document.querySelectorAll('#graph g.na-node')]
                                .map(g => g.dataset.nodeId));
            return present.every(id => ids.has(id)) && !absent.some(id => ids.has(id));
        }""", arg=[sorted(present), sorted(absent)], timeout=5000)


def initial_node_count(graph: Mapping[str, Any]) -> int:
    """Module and group nodes first drawn: the root's children, each run of repeated
    siblings (a group whose parent is the root) drawn as one node."""
    root = next(module for module in graph["modules"] if module["parent"] is None)
    runs = [group for group in graph["groups"] if group["parent"] == root["id"]]
    return len(root["children"]) - sum(len(group["members"]) for group in runs) + len(runs)


def module_id(graph: Mapping[str, Any], path: str) -> int:
    return next(module["id"] for module in graph["modules"] if module["path"] == path)


def sort_key(value: Any, descending: bool) -> tuple[int, Any]:
    """Numbers in order, null (unknown) last in either direction."""
    if value is None:
        return (1, 0)
    return (0, -value if descending else value)
