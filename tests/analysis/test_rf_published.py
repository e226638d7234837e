"""Receptive fields of classic TF-slim convnets against the published table of Araujo, Norris
and Sim, "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019
(https://distill.pub/2019/computing-receptive-fields/, doi:10.23915/distill.00021).

The numbers are those of the library behind the article, google-research/receptive_field:
the README table "receptive field / effective stride / effective padding" for the final
end points (https://github.com/google-research/receptive_field/blob/master/README.md) and
the per-end-point table it links to, receptive_field/RECEPTIVE_FIELD_TABLE.md, produced by
receptive_field/python/util/examples/rf_benchmark.py, which also names the end points and
arg scopes. Padding is Distill's effective padding; with TF 'SAME' padding at stride 2 it
depends on the input size, hence the two published resolutions 224 and 321. The PyTorch
transcriptions of the TF-slim networks are in ``distill_models.py``.

Two checks: netanatomy's computed (size, stride, padding) at every published end point
equals the table, and the gradient measurement (no formula) on a thin copy of each network,
at an input just large enough for the central output's field, finds that field exactly
where the computed size, stride and padding put it.
"""

from __future__ import annotations

import functools

import pytest
import torch

import netanatomy
from netanatomy.diagnostics.measured_rf import measure_receptive_fields

from .distill_models import build, module_path

# end point: (receptive field, effective stride, effective padding at 224, at 321), from
# RECEPTIVE_FIELD_TABLE.md. The last row of each network is its README entry.
PUBLISHED: dict[str, dict[str, tuple[int, int, int, int]]] = {
    "alexnet_v2": {
        "alexnet_v2/conv1": (11, 4, 0, 0),
        "alexnet_v2/pool1": (19, 8, 0, 0),
        "alexnet_v2/conv2": (51, 8, 16, 16),
        "alexnet_v2/conv3": (99, 16, 32, 32),
        "alexnet_v2/conv4": (131, 16, 48, 48),
        "alexnet_v2/conv5": (163, 16, 64, 64),
        "alexnet_v2/pool5": (195, 32, 64, 64),
    },
    "vgg_16": {
        "vgg_16/conv1/conv1_1": (3, 1, 1, 1),
        "vgg_16/pool1": (6, 2, 2, 2),
        "vgg_16/conv2/conv2_1": (10, 2, 4, 4),
        "vgg_16/pool2": (16, 4, 6, 6),
        "vgg_16/conv3/conv3_1": (24, 4, 10, 10),
        "vgg_16/conv3/conv3_2": (32, 4, 14, 14),
        "vgg_16/pool3": (44, 8, 18, 18),
        "vgg_16/conv4/conv4_1": (60, 8, 26, 26),
        "vgg_16/conv4/conv4_2": (76, 8, 34, 34),
        "vgg_16/pool4": (100, 16, 42, 42),
        "vgg_16/conv5/conv5_1": (132, 16, 58, 58),
        "vgg_16/conv5/conv5_2": (164, 16, 74, 74),
        "vgg_16/pool5": (212, 32, 90, 90),
    },
    "inception_v3": {
        "Conv2d_1a_3x3": (3, 2, 0, 0),
        "Conv2d_2a_3x3": (7, 2, 0, 0),
        "Conv2d_2b_3x3": (11, 2, 2, 2),
        "MaxPool_3a_3x3": (15, 4, 2, 2),
        "Conv2d_3b_1x1": (15, 4, 2, 2),
        "Conv2d_4a_3x3": (23, 4, 2, 2),
        "MaxPool_5a_3x3": (31, 8, 2, 2),
        "Mixed_5b": (63, 8, 18, 18),
        "Mixed_5c": (95, 8, 34, 34),
        "Mixed_5d": (127, 8, 50, 50),
        "Mixed_6a": (159, 16, 58, 58),
        "Mixed_6b": (351, 16, 154, 154),
        "Mixed_6c": (543, 16, 250, 250),
        "Mixed_6d": (735, 16, 346, 346),
        "Mixed_6e": (927, 16, 442, 442),
        "Mixed_7a": (1055, 32, 490, 490),
        "Mixed_7b": (1183, 32, 554, 554),
        "Mixed_7c": (1311, 32, 618, 618),
    },
    "mobilenet_v1": {
        "Conv2d_0": (3, 2, 0, 1),
        "Conv2d_1_pointwise": (7, 2, 2, 3),
        "Conv2d_2_pointwise": (11, 4, 2, 5),
        "Conv2d_3_pointwise": (19, 4, 6, 9),
        "Conv2d_4_pointwise": (27, 8, 6, 13),
        "Conv2d_5_pointwise": (43, 8, 14, 21),
        "Conv2d_6_pointwise": (59, 16, 14, 29),
        "Conv2d_7_pointwise": (91, 16, 30, 45),
        "Conv2d_8_pointwise": (123, 16, 46, 61),
        "Conv2d_9_pointwise": (155, 16, 62, 77),
        "Conv2d_10_pointwise": (187, 16, 78, 93),
        "Conv2d_11_pointwise": (219, 16, 94, 109),
        "Conv2d_12_pointwise": (251, 32, 94, 125),
        "Conv2d_13_pointwise": (315, 32, 126, 157),
    },
    "resnet_v1_50": {
        "resnet_v1_50/block1": (35, 8, 15, 17),
        "resnet_v1_50/block2": (99, 16, 47, 49),
        "resnet_v1_50/block3": (291, 32, 143, 145),
        "resnet_v1_50/block4": (483, 32, 239, 241),
    },
    "resnet_v1_101": {
        "resnet_v1_101/block1": (35, 8, 15, 17),
        "resnet_v1_101/block2": (99, 16, 47, 49),
        "resnet_v1_101/block3": (835, 32, 415, 417),
        "resnet_v1_101/block4": (1027, 32, 511, 513),
    },
    "resnet_v1_152": {
        "resnet_v1_152/block1": (35, 8, 15, 17),
        "resnet_v1_152/block2": (163, 16, 79, 81),
        "resnet_v1_152/block3": (1315, 32, 655, 657),
        "resnet_v1_152/block4": (1507, 32, 751, 753),
    },
    "resnet_v1_200": {
        "resnet_v1_200/block1": (35, 8, 15, 17),
        "resnet_v1_200/block2": (419, 16, 207, 209),
        "resnet_v1_200/block3": (1571, 32, 783, 785),
        "resnet_v1_200/block4": (1763, 32, 879, 881),
    },
}

# The README's headline table (the end point is the network's last row above).
README = {"alexnet_v2": (195, 32, 64), "vgg_16": (212, 32, 90), "inception_v3": (1311, 32, 618),
          "mobilenet_v1": (315, 32, 126), "resnet_v1_50": (483, 32, 239),
          "resnet_v1_101": (1027, 32, 511), "resnet_v1_152": (1507, 32, 751),
          "resnet_v1_200": (1763, 32, 879)}

RESOLUTIONS = {224: 2, 321: 3}          # input size → column of PUBLISHED

# Smallest inputs (a few pixels of margin at most) whose central output of the final end
# point has its whole field inside the image; the measurement runs on these.
MEASURE_INPUT = {"alexnet_v2": 228, "vgg_16": 224, "mobilenet_v1": 321, "inception_v3": 1334,
                 "resnet_v1_50": 501, "resnet_v1_101": 1031, "resnet_v1_152": 1525,
                 "resnet_v1_200": 1781}
MEASURE_WIDTH = 1 / 64                  # channel multiplier of the measured copies

CASES = [(name, end_point, size) for name, rows in PUBLISHED.items() for end_point in rows
         for size in RESOLUTIONS]


@functools.cache
def analysed(name: str, size: int, width: float = 1.0) -> netanatomy.Report:
    with torch.device("meta"):
        model = build(name, width)
    return netanatomy.analyze(model, (1, 3, size, size))


def test_readme_rows_are_the_last_end_points() -> None:
    for name, (rf, stride, padding) in README.items():
        last = list(PUBLISHED[name].values())[-1]
        assert last[:3] == (rf, stride, padding), name


@pytest.mark.parametrize("name, end_point, size", CASES,
                         ids=[f"{e}@{s}" if e.startswith(n) else f"{n}/{e}@{s}"
                              for n, e, s in CASES])
def test_computed_field_equals_published(name: str, end_point: str, size: int) -> None:
    rf, stride, *paddings = PUBLISHED[name][end_point]
    padding = paddings[RESOLUTIONS[size] - 2]
    field = analysed(name, size).layer(module_path(name, end_point)).rf
    assert field is not None and not field.is_global
    assert (field.size, field.stride, field.padding) == ((rf, rf), (stride, stride),
                                                         (padding, padding))


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_measured_field_equals_computed(name: str) -> None:
    """Gradient support of the central output of every end point, on a thin linearised copy
    at MEASURE_INPUT: its size is the published one and it starts and ends where the
    computed stride and padding (at that input size) put the field of that output."""
    size = MEASURE_INPUT[name]
    paths = [module_path(name, end_point) for end_point in PUBLISHED[name]]
    report = analysed(name, size, MEASURE_WIDTH)
    measured = measure_receptive_fields(build(name, MEASURE_WIDTH), (1, 3, size, size), paths)
    for end_point, path in zip(PUBLISHED[name], paths):
        rf, stride = PUBLISHED[name][end_point][:2]
        computed, found = report.layer(path).rf, measured[path]
        assert not isinstance(found, str), found
        first = tuple(c * s - p for c, s, p in zip(found.output_position, computed.stride,
                                                   computed.padding))
        last = tuple(f + r - 1 for f, r in zip(first, computed.size))
        assert all(0 < f and e < size - 1 for f, e in zip(first, last)), \
            f"{end_point}: input {size} too small for the central output's field"
        assert not any(found.clipped)
        assert found.size == computed.size == (rf, rf), end_point
        assert computed.stride == (stride, stride), end_point
        assert (found.first, found.last) == (first, last), end_point
