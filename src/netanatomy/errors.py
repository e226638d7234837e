"""The exception tree of netanatomy.

Every error a user can trigger is a :class:`NetanatomyError`; its message names the place
(file, layer path), the values found and expected, and a hint. The CLI prints the message
alone (tracebacks only with ``--debug``) and exits with :attr:`NetanatomyError.exit_code`.
"""

from __future__ import annotations


class NetanatomyError(Exception):
    """Base class of every error netanatomy raises on purpose."""

    exit_code = 1


class UsageError(NetanatomyError):
    """The user asked for something malformed (bad option value, bad shape string)."""

    exit_code = 2


class TargetError(UsageError):
    """A TARGET (``module:name`` or ``file.py:name``) cannot be loaded into an nn.Module."""


class InputSpecError(UsageError):
    """An input specification such as ``1x3x224x224:float16`` is malformed."""


class CaptureError(NetanatomyError):
    """The model failed while running on the analysis tensors (shape mismatch, bad input)."""


class UnsupportedModelError(CaptureError):
    """The model holds something netanatomy cannot count or run where asked (packed
    quantized weights it cannot read, quantized kernels on a device that has none); the
    message names the module path, its type and the fix."""


class UncountedOpsError(NetanatomyError):
    """``strict`` analysis met ops that no rule covers."""


class RuleError(NetanatomyError):
    """An op rule was registered twice or asked for a metric it cannot give."""


class SpecError(UsageError):
    """A spec file is malformed: the message starts with ``file:line:column``, names the
    layer's path in the spec, what was expected and what was found, and gives a hint."""

    def __init__(self, message: str, *, source: str = "<spec>", line: int = 0,
                 column: int = 0, layer: str = "", hint: str = "") -> None:
        self.source, self.line, self.column, self.layer, self.hint = (
            source, line, column, layer, hint)
        where = f"{source}:{line}:{column}"
        at_layer = f" in layer '{layer}'" if layer else ""
        full = f"{where}: {message}{at_layer}" + (f". Hint: {hint}" if hint else "")
        super().__init__(full)
