"""The ``playground`` command's glue: bind, say where, open a browser, serve until Ctrl-C."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer


def run_playground(spec: Path | None, settings: Sequence[str], host: str, port: int,
                   allow_remote: bool, open_browser: bool, time_limit: float) -> None:
    """Serve the playground in this thread; Ctrl-C stops it (socket closed, exit 0).

    Raises:
        UsageError: a non-loopback ``host`` without ``allow_remote``, a port in use, an
            unreadable SPEC file.
    """
    from netanatomy.playground import create_server, is_loopback

    server = create_server(spec, settings=settings, host=host, port=port,
                           allow_remote=allow_remote, time_limit=time_limit)
    if not is_loopback(host):
        typer.echo(f"warning: serving on {host}, reachable from other machines; the "
                   "playground has no authentication (anyone who reaches it can run "
                   "analyses)", err=True)
    typer.echo(f"netanatomy playground: {server.url}  (Ctrl-C to stop)")
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("\nnetanatomy playground: stopped")
    finally:
        server.shutdown()
