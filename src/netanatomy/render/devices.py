"""The ``devices`` command's renderers: the hardware table as a text table, JSON
(``netanatomy.devices/1``, every field and figure) and CSV (one row per device).

The result they take is :func:`netanatomy.hardware.devices` (key → Device).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from netanatomy.hardware import DTYPES, Device
from netanatomy.render.csv import csv_text
from netanatomy.render.registry import Options, renderer

SHOWN_PEAKS = ("bf16", "fp16", "fp32")
"""The dense peaks the text table shows (JSON and CSV carry every dtype)."""

CONVENTIONS = ("Dense peaks, TFLOP/s (10^12); bandwidth GB/s (10^9 B/s); memory as the "
               "datasheet prints it (binary GB). \"derived\": computed from cores × clock × "
               "width, see the notes. link: the scale-up interconnect; GB/s/dir: its "
               "bandwidth PER DIRECTION (the datasheets' bidirectional totals halved; – none "
               "in the table). Source URLs and sparse figures: --format json or csv.")


def scaled(value: int | None, unit: int = 10**12) -> str:
    """``989400000000000`` → ``"989.4"`` (``"–"`` when the device has no figure)."""
    return "–" if value is None else f"{value / unit:,.6g}"


def link_cells(entry: Device) -> tuple[str, str]:
    """The link's short name (``"NVLink 4"``) and its GB/s per direction (``–``: none)."""
    link = entry.interconnect
    if link is None:
        return "–", "–"
    return link.link.split(" (")[0], scaled(link.per_direction, 10**9)


def memory_text(entry: Device) -> str:
    return "–" if entry.memory_gb is None else f"{entry.memory_gb:g} GB"


@renderer("devices", "table")
def devices_text(table: Mapping[str, Device], options: Options) -> str:
    grid = Table(header_style="bold", pad_edge=False)
    for header in ("device", "name", "memory", "GB/s", *SHOWN_PEAKS, "link", "GB/s/dir",
                   "source"):
        grid.add_column(header, justify="left" if header in ("device", "name", "link", "source")
                        else "right")
    for key, entry in table.items():
        source = entry.source.title + (" (derived)" if entry.derived else "")
        grid.add_row(key, entry.name, memory_text(entry), scaled(entry.bandwidth, 10**9),
                     *(scaled(entry.dense.get(dtype)) for dtype in SHOWN_PEAKS),
                     *link_cells(entry), source)
    console = Console(color_system=None, width=options.width or 160, force_terminal=False)
    with console.capture() as capture:
        console.print(grid)
        console.print(CONVENTIONS)
    return capture.get()


def device_document(entry: Device) -> dict[str, Any]:
    """Every field of ``entry``, figures in FLOP/s and bytes/s (exact integers)."""
    return {
        "key": entry.key, "vendor": entry.vendor, "name": entry.name, "kind": entry.kind,
        "form_factor": entry.form_factor, "tdp_w": entry.tdp_w,
        "memory_gb": entry.memory_gb, "memory_bytes": entry.memory_bytes,
        "memory_type": entry.memory_type, "bandwidth_bytes_per_s": entry.bandwidth,
        "dense_flops_per_s": dict(entry.dense), "sparse_flops_per_s": dict(entry.sparse),
        "derived": entry.derived, "aliases": list(entry.aliases),
        "source": {"title": entry.source.title, "url": entry.source.url},
        "also": [{"title": s.title, "url": s.url} for s in entry.also], "notes": entry.notes,
        "interconnect": interconnect_document(entry),
    }


def interconnect_document(entry: Device) -> dict[str, Any] | None:
    """The scale-up link, bytes/s per direction and both ways (None: the table has none)."""
    link = entry.interconnect
    if link is None:
        return None
    return {"link": link.link, "per_direction_bytes_per_s": link.per_direction,
            "bidirectional_bytes_per_s": link.bidirectional, "printed": link.printed,
            "source": {"title": link.source.title, "url": link.source.url},
            "notes": link.notes}


@renderer("devices", "json")
def devices_json(table: Mapping[str, Device], options: Options) -> str:
    return json.dumps({"schema": "netanatomy.devices/1",
                       "units": {"flops": "FLOP/s (int8: ops/s), dense unless 'sparse'",
                                 "bandwidth": "bytes/s", "memory_bytes": "GB read as GiB",
                                 "interconnect": "bytes/s per direction (bidirectional: "
                                                 "both directions together)"},
                       "devices": [device_document(entry) for entry in table.values()]},
                      indent=options.indent)


CSV_COLUMNS = ("key", "vendor", "name", "kind", "memory_gb", "bandwidth_bytes_per_s",
               *(f"dense_{dtype}" for dtype in DTYPES), *(f"sparse_{dtype}" for dtype in DTYPES),
               "derived", "source_title", "source_url", "notes", "interconnect_link",
               "interconnect_per_direction_bytes_per_s")


@renderer("devices", "csv")
def devices_csv(table: Mapping[str, Device], options: Options) -> str:
    """One row per device; FLOP/s columns per dtype (empty: no figure)."""
    rows = []
    for entry in table.values():
        row: dict[str, Any] = {
            "key": entry.key, "vendor": entry.vendor, "name": entry.name, "kind": entry.kind,
            "memory_gb": "" if entry.memory_gb is None else entry.memory_gb,
            "bandwidth_bytes_per_s": entry.bandwidth, "derived": entry.derived,
            "source_title": entry.source.title, "source_url": entry.source.url,
            "notes": entry.notes,
            "interconnect_link": "" if entry.interconnect is None else entry.interconnect.link,
            "interconnect_per_direction_bytes_per_s":
                "" if entry.interconnect is None else entry.interconnect.per_direction}
        for dtype in DTYPES:
            row[f"dense_{dtype}"] = entry.dense.get(dtype, "")
            row[f"sparse_{dtype}"] = entry.sparse.get(dtype, "")
        rows.append(row)
    return csv_text(CSV_COLUMNS, rows)
