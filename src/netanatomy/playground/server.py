"""The playground's HTTP server: the page, and ``POST /api/analyze``.

Standard library only (:class:`http.server.ThreadingHTTPServer`). What it answers:

- ``GET /`` (and ``/index.html``): the playground page, with the starting spec's payload;
- ``POST /api/analyze`` with ``{"spec": text, "set": ["K=3", ...]}``: ``{"ok": true,
  "report": <netanatomy.report/1>}`` or ``{"ok": false, "error": {"message", "file",
  "line", "column"}}`` (the spec's located error; line and column 1-based or null);
- any other path 404, any other method 405, a body longer than the spec limit 413.

Security (docs/playground.md): it listens on 127.0.0.1 unless told otherwise, answers only
requests whose ``Host`` names that address (a web page elsewhere cannot reach it through
DNS rebinding) and refuses a ``POST`` whose ``Origin`` is another site; the page's text is
only ever read as YAML by the spec front-end, in a worker process under a time limit
(:mod:`.worker`).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import threading
from collections.abc import Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from netanatomy.errors import NetanatomyError, UsageError
from netanatomy.frontends.spec import limits
from netanatomy.playground.worker import DEFAULT_TIME_LIMIT, Analyser, error_reply

API_PATH = "/api/analyze"
PAGE_PATHS = ("/", "/index.html")
MAX_SETTINGS = 100
"""Items of ``set`` in one request."""

DRAIN_LIMIT = 16 * 2**20
"""Bytes of a refused (too long) body still read before answering 413; past it the
connection is just closed."""

JSON_OVERHEAD = 6
"""Bytes of a request body per character of spec text, at most (JSON's ``\\uXXXX``)."""

SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'unsafe-inline'; "
                                "style-src 'unsafe-inline'; img-src data: blob:; "
                                "font-src data:; connect-src 'self'; base-uri 'none'; "
                                "form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""Sent with every answer: the page may talk only to this server, and fetch nothing."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback ``host`` unless ``allow_remote``.

    Raises:
        UsageError: naming the host and the option that allows it.
    """
    if not is_loopback(host) and not allow_remote:
        raise UsageError(
            f"--host {host}: the playground serves on this machine only (127.0.0.1); it "
            "has no authentication, so anyone who can reach another interface could use "
            "it. Give --allow-remote as well to serve on it anyway")


class PlaygroundServer(ThreadingHTTPServer):
    """The server: :attr:`url`, :meth:`start` (in a thread), :meth:`shutdown`."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, host: str, port: int, text: str, settings: Sequence[str] = (), *,
                 allow_remote: bool = False, source: str = "<playground>",
                 directory: Path | None = None, time_limit: float = DEFAULT_TIME_LIMIT
                 ) -> None:
        if ":" in host.strip("[]"):
            self.address_family = socket.AF_INET6
        super().__init__((host.strip("[]"), port), PlaygroundHandler)
        self.text, self.settings = text, tuple(settings)
        self.page_lock = threading.Lock()
        self.page_bytes: bytes | None = None
        self.allow_remote = allow_remote
        self.source = source
        self.directory = directory or examples_directory()
        self.analyser = Analyser(time_limit)
        self.thread: threading.Thread | None = None
        self.stopped = False
        self.analyser.start()

    def page(self) -> bytes:
        """The page, with the starting spec's text and payload (built on the first GET)."""
        with self.page_lock:
            if self.page_bytes is None:
                from netanatomy.playground.page import playground_page

                answer = json.loads(self.analyser.run(self.text, self.settings, self.source,
                                                      self.directory))
                self.page_bytes = playground_page(self.text, self.settings,
                                                  answer).encode("utf-8")
            return self.page_bytes

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/"

    def hosts(self) -> set[str]:
        """The ``Host`` header values this server answers."""
        host = str(self.server_address[0])
        names = {host, f"[{host}]", "localhost", "127.0.0.1", "[::1]"} \
            if is_loopback(host) else {host, f"[{host}]"}
        return names | {f"{name}:{self.port}" for name in names}

    def start(self) -> PlaygroundServer:
        """Serve in a background thread (for tests and notebooks); returns ``self``."""
        self.thread = threading.Thread(target=self.serve_forever, daemon=True,
                                       name="netanatomy-playground")
        self.thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving, close the socket and stop the worker (idempotent)."""
        if self.stopped:
            return
        self.stopped = True
        if self.thread is not None:
            super().shutdown()
            self.thread.join(5)
        self.server_close()
        self.analyser.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that fails: quiet while stopping (a keep-alive connection's read
        ends when its socket goes), otherwise one line on stderr instead of a traceback."""
        error = sys.exc_info()[1]
        if self.stopped or isinstance(error, (ConnectionError, TimeoutError)):
            return
        print(f"netanatomy playground: connection from {client_address[0]} failed: "
              f"{type(error).__name__}: {error}", file=sys.stderr)

    def __enter__(self) -> PlaygroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def examples_directory() -> Path:
    """Where ``ref:`` reads when no SPEC file was given: the built-in examples only."""
    from netanatomy.frontends.spec.refs import examples_folder

    return examples_folder()


class PlaygroundHandler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    server_version = "netanatomy-playground"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the address and errors, not every request."""

    def do_GET(self) -> None:
        if not self.trusted():
            return
        path = self.path.split("?", 1)[0]
        if path in PAGE_PATHS:
            try:
                page = self.server.page()
            except NetanatomyError as error:        # a broken install: say so, stay up
                self.refuse(HTTPStatus.INTERNAL_SERVER_ERROR, str(error))
                return
            self.answer(HTTPStatus.OK, page, "text/html; charset=utf-8")
        elif path == API_PATH:
            self.refuse(HTTPStatus.METHOD_NOT_ALLOWED, f"{API_PATH} takes POST",
                        allow="POST")
        else:
            self.refuse(HTTPStatus.NOT_FOUND, f"no page {path!r} here; the playground is /")

    def do_HEAD(self) -> None:
        self.refuse(HTTPStatus.METHOD_NOT_ALLOWED, "GET / or POST /api/analyze",
                    allow="GET, POST")

    def do_POST(self) -> None:
        if not self.trusted():
            return
        path = self.path.split("?", 1)[0]
        if path in PAGE_PATHS:
            self.refuse(HTTPStatus.METHOD_NOT_ALLOWED, "the page takes GET", allow="GET")
            return
        if path != API_PATH:
            self.refuse(HTTPStatus.NOT_FOUND, f"no endpoint {path!r} here; POST to {API_PATH}")
            return
        request = self.read_request()
        if request is None:
            return
        text, settings = request
        answer = self.server.analyser.run(text, settings, self.server.source,
                                          self.server.directory)
        self.answer(HTTPStatus.OK, answer.encode("utf-8"), "application/json")

    def other_method(self) -> None:
        self.refuse(HTTPStatus.METHOD_NOT_ALLOWED, "GET / or POST /api/analyze",
                    allow="GET, POST")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = other_method

    def trusted(self) -> bool:
        """Answer only this server's own ``Host`` (DNS rebinding) and, for a POST, only
        its own page (an ``Origin`` from elsewhere is another site's script)."""
        host = self.headers.get("Host", "")
        if not self.server.allow_remote and host not in self.server.hosts():
            self.refuse(HTTPStatus.FORBIDDEN, f"Host {host!r} is not this playground")
            return False
        origin = self.headers.get("Origin")
        if (self.command == "POST" and origin is not None and not self.server.allow_remote
                and origin.removeprefix("http://") not in self.server.hosts()):
            self.refuse(HTTPStatus.FORBIDDEN, f"requests from {origin} are refused")
            return False
        return True

    def read_request(self) -> tuple[str, list[str]] | None:
        """``(spec text, set items)`` of the body, or None once an error is answered."""
        limit = limits.MAX_SPEC_CHARS
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self.refuse(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
            return None
        length = int(length_text)
        if length > JSON_OVERHEAD * limit + 65536:
            if length <= DRAIN_LIMIT:       # read it, so that the client sees the answer
                drain(self.rfile, length)
            self.refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large(limit), close=True)
            return None
        try:
            body = json.loads(self.rfile.read(length).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self.refuse(HTTPStatus.BAD_REQUEST, 'expected JSON: {"spec": "...", "set": []}')
            return None
        text = body.get("spec") if isinstance(body, dict) else None
        settings = body.get("set", []) if isinstance(body, dict) else None
        if not isinstance(text, str) or not isinstance(settings, list) or not all(
                isinstance(item, str) for item in settings) or len(settings) > MAX_SETTINGS:
            self.refuse(HTTPStatus.BAD_REQUEST, 'expected {"spec": "<YAML text>", "set": '
                        f'["K=3", ...]}} (at most {MAX_SETTINGS} items)')
            return None
        if len(text) > limit or sum(map(len, settings)) > limit:
            self.refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large(limit))
            return None
        return text, settings

    def refuse(self, status: HTTPStatus, message: str, allow: str | None = None,
               close: bool = False) -> None:
        """Answer ``status`` with the error JSON (the page shows its message)."""
        body = json.dumps(error_reply(f"{status.value} {status.phrase}: {message}"))
        headers = {"Allow": allow} if allow else {}
        self.answer(status, body.encode("utf-8"), "application/json", headers, close)

    def answer(self, status: HTTPStatus, body: bytes, content_type: str,
               headers: dict[str, str] | None = None, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def drain(stream: Any, length: int) -> None:
    """Read and drop ``length`` bytes of ``stream`` (fewer if it ends)."""
    while length > 0:
        chunk = stream.read(min(65536, length))
        if not chunk:
            return
        length -= len(chunk)


def too_large(limit: int) -> str:
    return (f"the spec is longer than MAX_SPEC_CHARS = {limit} characters (see "
            "netanatomy.frontends.spec.limits)")


__all__ = ["API_PATH", "PlaygroundServer", "check_host", "is_loopback"]
