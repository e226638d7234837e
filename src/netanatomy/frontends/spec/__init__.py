"""The spec front-end: short YAML architecture specs (numbers or symbols) → IR graph.

It imports no torch: specs are analysed with sympy and the op rules alone.
"""

from netanatomy.frontends.spec.layers import LAYER_TYPES
from netanatomy.frontends.spec.spec import Spec, load_spec, spec_graph

__all__ = ["LAYER_TYPES", "Spec", "load_spec", "spec_graph"]
