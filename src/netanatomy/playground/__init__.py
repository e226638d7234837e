"""``netanatomy playground``: a local page to edit a spec and see its costs as you type.

>>> server = serve(port=0)                      # doctest: +SKIP
>>> server.url                                  # doctest: +SKIP
'http://127.0.0.1:40123/'
>>> server.shutdown()                           # doctest: +SKIP

The server listens on 127.0.0.1 only (another interface needs ``allow_remote=True``), reads
the page's text only as a YAML spec, analyses it in a worker process under a time limit and
answers with the same ``netanatomy.report/1`` payload as ``netanatomy report``
(docs/playground.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from netanatomy.errors import UsageError
from netanatomy.playground.server import PlaygroundServer, check_host, is_loopback
from netanatomy.playground.worker import DEFAULT_TIME_LIMIT

DEFAULT_PORT = 8765
DEFAULT_HOST = "127.0.0.1"
DEFAULT_EXAMPLE = "standard-conv"
"""The built-in example the page starts with when no SPEC file is given: three K×K convs,
symbolic sizes, so its totals are formulas."""


def starting_spec(spec: str | Path | None) -> tuple[str, str, Path | None]:
    """``(text, source name, folder for ref:)`` of the SPEC file, or of the default example
    (folder None: ``ref:`` reads the built-in examples only).

    Raises:
        UsageError: the file is missing, unreadable, not UTF-8 or too long.
    """
    from netanatomy import spec as spec_api
    from netanatomy.frontends.spec import limits

    if spec is None:
        path = spec_api.example_path(DEFAULT_EXAMPLE)
        return path.read_text(encoding="utf-8"), "<playground>", None
    path = Path(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"SPEC {str(path)!r}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"SPEC {str(path)!r} cannot be read as UTF-8 text ({error})") \
            from None
    if len(text) > limits.MAX_SPEC_CHARS:
        raise UsageError(f"SPEC {str(path)!r} is longer than MAX_SPEC_CHARS = "
                         f"{limits.MAX_SPEC_CHARS} characters")
    return text, path.name, path.resolve().parent


def create_server(spec: str | Path | None = None, *, settings: Sequence[str] = (),
                  host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                  allow_remote: bool = False, time_limit: float = DEFAULT_TIME_LIMIT
                  ) -> PlaygroundServer:
    """Bind the playground (not yet serving: call ``serve_forever()`` or ``start()``).

    Args:
        spec: the SPEC file the page starts with (None: a built-in example); ``ref:``
            in the page's text reads only inside its folder (and the built-in examples).
        settings: ``--set`` items the page starts with (``["K=3"]``).
        port: 0 for any free port (see ``.url``).
        time_limit: seconds one analysis may take before it is stopped.

    Raises:
        UsageError: a non-loopback host without ``allow_remote``, a port in use, or a
            SPEC file that cannot be read.
    """
    check_host(host, allow_remote)
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: give 0 (any free port) to 65535")
    if time_limit <= 0:
        raise UsageError(f"the time limit must be positive, got {time_limit}")
    text, source, directory = starting_spec(spec)
    try:
        return PlaygroundServer(host, port, text, settings, allow_remote=allow_remote,
                                source=source, directory=directory, time_limit=time_limit)
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port} ({error.strerror or error}); "
                         "give another --port, or --port 0 for any free one") from None


def serve(spec: str | Path | None = None, *, settings: Sequence[str] = (),
          host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, allow_remote: bool = False,
          time_limit: float = DEFAULT_TIME_LIMIT) -> PlaygroundServer:
    """Start the playground in a background thread; returns the server (``.url``,
    ``.shutdown()``; also a context manager). Arguments as :func:`create_server`."""
    return create_server(spec, settings=settings, host=host, port=port,
                         allow_remote=allow_remote, time_limit=time_limit).start()


__all__ = ["DEFAULT_PORT", "DEFAULT_TIME_LIMIT", "PlaygroundServer", "create_server",
           "is_loopback", "serve"]
