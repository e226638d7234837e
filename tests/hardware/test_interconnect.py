"""The scale-up links of the hardware table against their datasheets (figures written by
hand as arithmetic, with the source), the bidirectional → per-direction conversion, and
the loader refusing ambiguous or malformed entries."""

from __future__ import annotations

import pytest

from netanatomy import hardware
from netanatomy.errors import NetanatomyError

G = 10**9


def per_direction(key: str) -> int:
    link = hardware.device(key).interconnect
    assert link is not None, key
    return link.per_direction


@pytest.mark.parametrize(("key", "printed_total", "links", "per_link_each_way"), [
    # NVIDIA A100 datasheet (nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf):
    # "NVLink: 600GB/s"; A100 whitepaper: 12 third-generation links, 25 GB/s each way
    ("a100-sxm-80gb", 600, 12, 25), ("a100-sxm-40gb", 600, 12, 25),
    # NVIDIA H100 datasheet (resources.nvidia.com/.../nvidia-tensor-core-gpu-datasheet):
    # "NVLink: 900GB/s"; Hopper whitepaper: "900 GB/sec total bidirectional", 18 links
    ("h100-sxm", 900, 18, 25),
    # NVIDIA H200 datasheet (nvidia.com/en-us/data-center/h200): "NVIDIA NVLink: 900GB/s"
    ("h200-sxm", 900, 18, 25),
    # NVIDIA HGX page (nvidia.com/en-us/data-center/hgx): B200 "NVLink: 1.8TB/s" per GPU,
    # 18 fifth-generation links of 100 GB/s both ways
    ("b200", 1800, 18, 50),
    # AMD MI300X data sheet: "Infinity Fabric Links: 7", "Peak Infinity Fabric Link
    # Bandwidth: 128 GB/s" (per link, both ways)
    ("mi300x", 7 * 128, 7, 64),
    # Tesla V100 datasheet: "Bi-Directional NVLink 300 GB/s", 6 links
    ("v100-sxm2-32gb", 300, 6, 25), ("v100-sxm2-16gb", 300, 6, 25),
])
def test_scale_up_links_are_half_the_printed_bidirectional_total(
        key: str, printed_total: int, links: int, per_link_each_way: int) -> None:
    assert per_direction(key) == printed_total * G // 2
    assert per_direction(key) == links * per_link_each_way * G
    link = hardware.device(key).interconnect
    assert link is not None and link.bidirectional == printed_total * G
    assert "bidirectional" in link.printed and link.source.url.startswith("https://")


@pytest.mark.parametrize(("key", "printed_total"), [
    # A100 PCIe datasheet "PCIe Gen4: 64GB/s"; H100 PCIe and H200 NVL "PCIe Gen5: 128GB/s";
    # L40S "PCIe Gen4 x16: 64GB/s bidirectional"; T4 "Interconnect Bandwidth 32 GB/sec"
    ("a100-pcie-80gb", 64), ("a100-pcie-40gb", 64), ("h100-pcie", 128), ("h200-nvl", 128),
    ("l40s", 64), ("t4", 32)])
def test_pcie_cards_use_their_pcie_link(key: str, printed_total: int) -> None:
    assert per_direction(key) == printed_total * G // 2
    assert hardware.device(key).interconnect.link.startswith("PCIe")  # type: ignore[union-attr]


def test_pcie_per_direction_agrees_with_the_pcie_signalling_rate() -> None:
    # PCI-SIG: Gen4 16 GT/s, Gen5 32 GT/s per lane, 128b/130b coding, 16 lanes, 8 bits/B;
    # NVIDIA rounds 31.5 → 32 and 63 → 64 GB/s per direction
    gen4, gen5 = 16e9 * 16 * 128 / 130 / 8, 32e9 * 16 * 128 / 130 / 8
    assert per_direction("a100-pcie-80gb") == pytest.approx(gen4, rel=0.02)
    assert per_direction("h100-pcie") == pytest.approx(gen5, rel=0.02)


@pytest.mark.parametrize("key", ["rtx-4090", "rtx-3090", "xeon-8480+", "epyc-9654"])
def test_devices_whose_sources_print_no_link_have_none(key: str) -> None:
    assert hardware.device(key).interconnect is None


ENTRY = """
devices:
  x:
    vendor: V
    name: X
    kind: gpu
    memory_gb: 1
    bandwidth_gbs: 1
    dense_tflops: {{fp32: 1}}
    source: {{title: t, url: "https://example.org"}}
    notes: n
    interconnect: {link}
"""
SOURCE = '{title: t, url: "https://example.org"}'


def test_a_per_direction_figure_is_kept_as_is() -> None:
    table = hardware.load_devices(ENTRY.format(
        link=f"{{link: L, per_direction_gbs: 50, source: {SOURCE}}}"))
    link = table["x"].interconnect
    assert link is not None and link.per_direction == 50 * G and link.bidirectional == 100 * G


@pytest.mark.parametrize(("link", "message"), [
    (f"{{link: L, bidirectional_gbs: 2, per_direction_gbs: 1, source: {SOURCE}}}",
     "exactly one"),
    (f"{{link: L, source: {SOURCE}}}", "exactly one"),
    ("{link: L, bidirectional_gbs: 2}", "exactly one"),
    (f"{{link: L, total_gbs: 2, source: {SOURCE}}}", "unknown field total_gbs"),
    (f"{{link: L, bidirectional_gbs: -2, source: {SOURCE}}}", "positive"),
])
def test_malformed_links_are_refused(link: str, message: str) -> None:
    with pytest.raises(NetanatomyError, match=message):
        hardware.load_devices(ENTRY.format(link=link))
