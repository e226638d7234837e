"""Attribution maps: which input values drove a model's score (saliency, input × gradient,
deconvnet, guided backpropagation, Grad-CAM, guided Grad-CAM, integrated gradients,
occlusion, deconvnet projection). Runs the model for real (imports torch).

Public: :func:`attribute`, :class:`Attribution`, :data:`METHODS` (the registry) and
:func:`relu_backward_rule` (the ReLU-family backward override).
"""

from netanatomy.attribution.api import attribute
from netanatomy.attribution.methods import METHODS, Method, method
from netanatomy.attribution.relu_rules import RULES, relu_backward_rule
from netanatomy.attribution.result import Attribution

__all__ = ["METHODS", "RULES", "Attribution", "Method", "attribute", "method",
           "relu_backward_rule"]
