"""Loading a TARGET (``pkg.module:name`` or ``path/to/file.py:name``) as an nn.Module.

``name`` may be an ``nn.Module`` instance, an ``nn.Module`` subclass (built with no
arguments), or a zero-argument callable returning a module. ``zoo:NAME`` names one of
netanatomy's built-in models (see :mod:`netanatomy.zoo`).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from torch import nn

from netanatomy.errors import TargetError

FORM = "expected 'package.module:name', 'path/to/file.py:name' or 'zoo:NAME'"


def load_target(target: str) -> nn.Module:
    """Resolve ``target`` to a module instance.

    Raises:
        TargetError: the module or file cannot be imported, the name is missing, or it is
            not a module, module class or zero-argument factory.
    """
    location, sep, name = target.rpartition(":")
    if not sep or not location or not name:
        raise TargetError(f"bad target {target!r}: {FORM}")
    if location == "zoo":
        from netanatomy.frontends.torch import zoo

        return zoo.build(name)
    namespace = import_location(location, target)
    if not hasattr(namespace, name):
        public = sorted(n for n in vars(namespace) if not n.startswith("_"))
        raise TargetError(f"{location!r} has no attribute {name!r} (target {target!r}); "
                          f"names there: {', '.join(public[:20]) or 'none'}")
    return instantiate(getattr(namespace, name), target)


def import_location(location: str, target: str) -> Any:
    """Import a dotted module path or a .py file."""
    if location.endswith(".py") or "/" in location or "\\" in location:
        path = Path(location)
        if not path.is_file():
            raise TargetError(f"file {location!r} of target {target!r} does not exist")
        module_name = f"netanatomy_target_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise TargetError(f"cannot import {location!r} (target {target!r})")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        sys.path.insert(0, str(path.resolve().parent))
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise TargetError(f"importing {location!r} failed: {type(error).__name__}: "
                              f"{error}") from error
        finally:
            sys.path.remove(str(path.resolve().parent))
        return module
    try:
        return importlib.import_module(location)
    except ImportError as error:
        raise TargetError(f"cannot import module {location!r} (target {target!r}): {error}. "
                          "Is it installed, or on PYTHONPATH?") from error


def instantiate(obj: Any, target: str) -> nn.Module:
    """An nn.Module from an instance, a Module class, or a zero-argument callable."""
    if isinstance(obj, nn.Module):
        return check_eager(obj, target)
    if not callable(obj):
        raise TargetError(f"{target!r} is a {type(obj).__name__}, not an nn.Module, a Module "
                          "class or a zero-argument function returning one")
    try:
        signature = inspect.signature(obj)
        required = [p for p in signature.parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                           p.POSITIONAL_OR_KEYWORD,
                                                           p.KEYWORD_ONLY)]
    except (TypeError, ValueError):
        required = []
    if required:
        names = ", ".join(p.name for p in required)
        raise TargetError(f"{target!r} needs arguments ({names}); point the target at a "
                          "zero-argument function that builds the model instead")
    try:
        built = obj()
    except Exception as error:
        raise TargetError(f"building {target!r} failed: {type(error).__name__}: {error}") \
            from error
    if not isinstance(built, nn.Module):
        raise TargetError(f"{target!r} returned a {type(built).__name__}, not an nn.Module")
    return check_eager(built, target)


def check_eager(model: nn.Module, target: str = "the model") -> nn.Module:
    """``model`` itself when it is an eager module, not a TorchScript one.

    Raises:
        TargetError: a ``torch.jit.script`` / ``torch.jit.trace`` / ``torch.jit.load``
            result, which runs no Python forward (no hooks, no aten ops to record).
    """
    import torch

    if isinstance(model, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
        raise TargetError(f"{target} is a TorchScript module ({type(model).__name__}), which "
                          "netanatomy cannot trace: pass the eager module (before "
                          "torch.jit.script/trace), e.g. the nn.Module you scripted")
    return model
