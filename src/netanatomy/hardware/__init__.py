"""The hardware table: peak dense FLOP/s per dtype, memory bandwidth and capacity of the
common accelerators and CPUs, each with its datasheet (``devices.yaml`` beside this file).

The table is data, loaded and validated once; an unknown device, an ambiguous alias or a
dtype a device has no figure for is a :class:`~netanatomy.errors.UsageError`, never a
silent default.

>>> device("h100-sxm").peak_flops("bf16")
989400000000000
>>> device("h100-sxm").bandwidth
3350000000000
>>> device("h100-sxm").interconnect.per_direction     # NVLink 4: 900 GB/s both ways
450000000000

Units: FLOP/s and bytes/s as exact integers (decimal prefixes, as the vendors print
them); ``memory_bytes`` reads the datasheet's "GB" as GiB (DRAM capacities are binary).
Dense figures are without structured sparsity; the vendor's 2:4-sparsity figures, where
printed, are in :attr:`Device.sparse` only. A device's scale-up link
(:class:`Interconnect`: NVLink, Infinity Fabric, PCIe) is held per direction; the table
states which convention the datasheet prints (``bidirectional_gbs``: the total of both
directions, halved here; ``per_direction_gbs``: as is). A device without one has
``interconnect = None``: no communication time is computed for it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import yaml

from netanatomy.errors import NetanatomyError, UsageError

__all__ = ["DTYPES", "Device", "Interconnect", "Source", "device", "devices", "dtype_key",
           "load_devices"]

DTYPES = ("fp64", "fp64_tensor", "fp32", "tf32", "bf16", "fp16", "fp8", "fp4", "int8")
"""The dtype keys of the table, widest first: fp64 and fp32 are vector (non-tensor) peaks,
fp64_tensor and the rest tensor/matrix-core peaks (int8 in integer ops per second)."""

TORCH_DTYPES = {
    "float64": "fp64", "double": "fp64", "float32": "fp32", "float": "fp32",
    "bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float8_e4m3fn": "fp8",
    "float8_e5m2": "fp8", "float8_e4m3fnuz": "fp8", "float8_e5m2fnuz": "fp8", "int8": "int8",
}
"""Tensor dtype names (torch's, with or without ``torch.``) → table keys. ``float32`` is
the plain FP32 peak: PyTorch's matmuls use TF32 only when asked (give ``"tf32"``)."""

TERA = 10**12
GIGA = 10**9
GIB = 2**30


@dataclass(frozen=True, slots=True)
class Source:
    """A datasheet (or whitepaper, product page) a figure comes from."""

    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Interconnect:
    """A device's scale-up link to its peers (NVLink, Infinity Fabric, PCIe).

    Attributes:
        link: what it is (``"NVLink 4 (18 links)"``).
        per_direction: peak bytes/s one device sends (and, at once, receives): the
            datasheet's bidirectional total halved, or its per-direction figure as is.
        printed: the figure as the datasheet prints it, with its convention
            (``"900 GB/s bidirectional total"``).
    """

    link: str
    per_direction: int
    printed: str
    source: Source
    notes: str = ""

    @property
    def bidirectional(self) -> int:
        """Both directions together, bytes/s (2 × :attr:`per_direction`)."""
        return 2 * self.per_direction


@dataclass(frozen=True, slots=True)
class Device:
    """One row of the hardware table.

    Attributes:
        key: the table key (``"h100-sxm"``).
        bandwidth: peak memory bandwidth, bytes/s.
        dense: peak FLOP/s (int8: ops/s) per dtype key, without sparsity.
        sparse: the vendor's structured-sparsity figures, where printed.
        memory_gb: capacity as the datasheet prints it (None for CPUs).
        derived: True when the peaks are computed (cores × clock × width, see ``notes``)
            rather than printed by the vendor.
        interconnect: the scale-up link (None: the table has none for this device).
    """

    key: str
    vendor: str
    name: str
    kind: str
    bandwidth: int
    dense: Mapping[str, int]
    sparse: Mapping[str, int]
    source: Source
    notes: str
    memory_gb: float | None = None
    memory_type: str | None = None
    form_factor: str | None = None
    tdp_w: int | None = None
    aliases: tuple[str, ...] = ()
    also: tuple[Source, ...] = ()
    derived: bool = False
    interconnect: Interconnect | None = None

    @property
    def memory_bytes(self) -> int | None:
        """Capacity in bytes, the datasheet's GB read as GiB (None: not fixed)."""
        return None if self.memory_gb is None else int(Decimal(str(self.memory_gb)) * GIB)

    def peak_flops(self, dtype: str) -> int:
        """Peak dense FLOP/s for ``dtype`` (a table key or a tensor dtype name).

        Raises:
            UsageError: the device has no figure for it (the message names those it has).
        """
        key = dtype_key(dtype)
        if key not in self.dense:
            raise UsageError(f"{self.key} ({self.name}) has no {key} figure in its datasheet; "
                             f"it has {', '.join(self.dense)}")
        return self.dense[key]

    def ridge_point(self, dtype: str) -> float:
        """FLOP per byte at which ``dtype``'s peak and the bandwidth meet (roofline)."""
        return self.peak_flops(dtype) / self.bandwidth


def dtype_key(dtype: str) -> str:
    """The table key of ``dtype``: ``"bfloat16"``, ``"torch.bfloat16"`` → ``"bf16"``.

    Raises:
        UsageError: neither a table key nor a known tensor dtype.
    """
    name = str(dtype).strip().lower().removeprefix("torch.")
    if name in DTYPES:
        return name
    if name in TORCH_DTYPES:
        return TORCH_DTYPES[name]
    raise UsageError(f"unknown dtype {dtype!r}: give one of {', '.join(DTYPES)} or a tensor "
                     "dtype such as float32, bfloat16, float16")


def devices() -> dict[str, Device]:
    """Every device of the shipped table, by key, in table order (a copy)."""
    return dict(_table()[0])


def device(name: str | Device) -> Device:
    """The device named ``name`` (a key or an unambiguous alias, case-insensitive).

    Raises:
        UsageError: unknown (the message names close matches) or an alias several
            devices share (the message names them).
    """
    if isinstance(name, Device):
        return name
    table, aliases = _table()
    wanted = normalise(name)
    if wanted in table:
        return table[wanted]
    keys = aliases.get(wanted, ())
    if len(keys) == 1:
        return table[keys[0]]
    if keys:
        raise UsageError(f"device {name!r} is ambiguous: it could be {', '.join(keys)}; give "
                         "one of them")
    close = difflib.get_close_matches(wanted, [*table, *aliases], n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"unknown device {name!r}{hint} (`netanatomy devices` lists the table; "
                     "docs/hardware.md says how to add one)")


def normalise(name: str) -> str:
    return "-".join(str(name).strip().lower().replace("_", "-").split())


@cache
def _table() -> tuple[Mapping[str, Device], Mapping[str, tuple[str, ...]]]:
    text = resources.files("netanatomy.hardware").joinpath("devices.yaml").read_text("utf-8")
    table = load_devices(text, "devices.yaml")
    return MappingProxyType(table), MappingProxyType(alias_index(table))


def alias_index(table: Mapping[str, Device]) -> dict[str, tuple[str, ...]]:
    """Alias → the keys of the devices that list it (several: ambiguous)."""
    index: dict[str, list[str]] = {}
    for key, entry in table.items():
        for alias in entry.aliases:
            index.setdefault(alias, []).append(key)
    return {alias: tuple(keys) for alias, keys in index.items()}


def load_devices(text: str, origin: str = "<table>") -> dict[str, Device]:
    """Parse and validate a hardware table (the YAML layout of ``devices.yaml``).

    Raises:
        NetanatomyError: a malformed entry (the message names the origin, the key and the
            field).
    """
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("devices"), dict):
        raise NetanatomyError(f"{origin}: expected a mapping with a 'devices' mapping")
    table = {normalise(key): parse_device(normalise(key), entry, f"{origin}: device {key!r}")
             for key, entry in data["devices"].items()}
    clashes = sorted(set(table) & set(alias_index(table)))
    if clashes:
        raise NetanatomyError(f"{origin}: {', '.join(clashes)} is both a key and an alias")
    return table


REQUIRED = ("vendor", "name", "kind", "bandwidth_gbs", "dense_tflops", "source", "notes")


def parse_device(key: str, entry: Any, where: str) -> Device:
    if not isinstance(entry, dict):
        raise NetanatomyError(f"{where}: expected a mapping of fields")
    missing = [field for field in REQUIRED if entry.get(field) in (None, "", {})]
    if missing:
        raise NetanatomyError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(entry) - {*REQUIRED, "sparse_tflops", "memory_gb", "memory_type",
                                   "form_factor", "tdp_w", "aliases", "also", "derived",
                                   "interconnect"})
    if unknown:
        raise NetanatomyError(f"{where}: unknown field {', '.join(unknown)}")
    if entry["kind"] not in ("gpu", "cpu"):
        raise NetanatomyError(f"{where}: kind must be gpu or cpu, got {entry['kind']!r}")
    dense = parse_peaks(entry["dense_tflops"], f"{where}: dense_tflops")
    sparse = parse_peaks(entry.get("sparse_tflops") or {}, f"{where}: sparse_tflops")
    if not set(sparse) <= set(dense):
        raise NetanatomyError(f"{where}: sparse_tflops {sorted(set(sparse) - set(dense))} "
                              "without a dense figure")
    return Device(
        key=key, vendor=str(entry["vendor"]), name=str(entry["name"]), kind=entry["kind"],
        bandwidth=scaled(entry["bandwidth_gbs"], GIGA, f"{where}: bandwidth_gbs"),
        dense=MappingProxyType(dense), sparse=MappingProxyType(sparse),
        source=parse_source(entry["source"], f"{where}: source"), notes=" ".join(
            str(entry["notes"]).split()), memory_gb=entry.get("memory_gb"),
        memory_type=entry.get("memory_type"), form_factor=entry.get("form_factor"),
        tdp_w=entry.get("tdp_w"), aliases=tuple(normalise(a) for a in entry.get("aliases", ())),
        also=tuple(parse_source(s, f"{where}: also") for s in entry.get("also", ())),
        derived=bool(entry.get("derived", False)),
        interconnect=(None if entry.get("interconnect") is None else
                      parse_interconnect(entry["interconnect"], f"{where}: interconnect")))


LINK_FIELDS = ("bidirectional_gbs", "per_direction_gbs")


def parse_interconnect(value: Any, where: str) -> Interconnect:
    """An ``interconnect`` entry: ``link``, exactly one of ``bidirectional_gbs`` (the
    datasheet's total of both directions, halved here) or ``per_direction_gbs``,
    ``source``, optional ``notes``."""
    if not isinstance(value, dict):
        raise NetanatomyError(f"{where}: expected a mapping of fields")
    unknown = sorted(set(value) - {"link", *LINK_FIELDS, "source", "notes"})
    if unknown:
        raise NetanatomyError(f"{where}: unknown field {', '.join(unknown)}")
    given = [field for field in LINK_FIELDS if value.get(field) is not None]
    if len(given) != 1 or not value.get("link") or not value.get("source"):
        raise NetanatomyError(f"{where}: give link, source and exactly one of "
                              f"{' or '.join(LINK_FIELDS)}")
    field = given[0]
    figure = value[field]
    printed = scaled(figure, GIGA, f"{where}: {field}")
    bidirectional = field == "bidirectional_gbs"
    if bidirectional and printed % 2:
        raise NetanatomyError(f"{where}: {field} {figure} is not whole bytes per direction")
    return Interconnect(
        link=str(value["link"]), per_direction=printed // 2 if bidirectional else printed,
        printed=f"{figure:g} GB/s {'bidirectional total' if bidirectional else 'per direction'}",
        source=parse_source(value["source"], f"{where}: source"),
        notes=" ".join(str(value.get("notes") or "").split()))


def parse_peaks(values: Any, where: str) -> dict[str, int]:
    if not isinstance(values, dict):
        raise NetanatomyError(f"{where}: expected a mapping of dtype: TFLOP/s")
    unknown = sorted(set(values) - set(DTYPES))
    if unknown:
        raise NetanatomyError(f"{where}: unknown dtype {', '.join(map(str, unknown))} (known: "
                              f"{', '.join(DTYPES)})")
    return {key: scaled(values[key], TERA, f"{where}: {key}") for key in DTYPES if key in values}


def scaled(value: Any, unit: int, where: str) -> int:
    """``value`` × ``unit`` as an exact integer (``989.4`` TFLOP/s → 989400000000000)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise NetanatomyError(f"{where}: expected a positive number, got {value!r}")
    return int(Decimal(str(value)) * unit)


def parse_source(value: Any, where: str) -> Source:
    if not isinstance(value, dict) or not value.get("title") or not value.get("url"):
        raise NetanatomyError(f"{where}: expected title and url")
    if not str(value["url"]).startswith("https://"):
        raise NetanatomyError(f"{where}: the url must be https://…, got {value['url']!r}")
    return Source(str(value["title"]), str(value["url"]))
