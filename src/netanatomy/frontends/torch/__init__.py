"""The PyTorch front-end: nn.Module + inputs → IR graph, captured at the aten level."""

from netanatomy.frontends.torch.capture import capture
from netanatomy.frontends.torch.inputs import InputSpec, make_input, parse_input_spec
from netanatomy.frontends.torch.target import load_target

__all__ = ["InputSpec", "capture", "load_target", "make_input", "parse_input_spec"]
