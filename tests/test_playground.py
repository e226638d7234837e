"""The playground server without a browser: the API's answers and refusals, the time limit,
``ref:`` confinement, the loopback-only rule and a clean Ctrl-C (the page itself is tested
in tests/browser/test_playground_page.py)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from netanatomy.cli.main import app
from netanatomy.errors import UsageError
from netanatomy.frontends.spec import limits
from netanatomy.playground import PlaygroundServer, create_server, serve, worker

CONV = "input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, k: 3}\n  - relu\n"
CONV_PARAMS = 3 * 3 * 3 * 4 + 4          # k*k*C_in*C_out + bias
CONV_MACS = 6 * 6 * 4 * (3 * 3 * 3)      # 8-3+1 = 6: H_out*W_out*C_out * k*k*C_in


@pytest.fixture(scope="module")
def server() -> Iterator[PlaygroundServer]:
    with serve(port=0) as running:
        yield running


def request(server: PlaygroundServer, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def analyze(server: PlaygroundServer, text: str, settings: list[str] | None = None
            ) -> tuple[int, Any]:
    body = json.dumps({"spec": text, "set": settings or []}).encode()
    status, _, answer = request(server, "POST", "/api/analyze", body,
                                {"Content-Type": "application/json"})
    return status, json.loads(answer)


def test_serves_on_loopback_with_a_free_port(server: PlaygroundServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}/"
    assert server.port > 0


def test_analyze_answers_the_report_payload(server: PlaygroundServer) -> None:
    status, answer = analyze(server, CONV)
    assert status == 200 and answer["ok"], answer
    report = answer["report"]
    assert report["schema"] == "netanatomy.report/1"
    assert report["summary"]["totals"]["params"] == CONV_PARAMS
    assert report["summary"]["totals"]["macs"] == CONV_MACS
    assert [entry["path"] for entry in report["explain"]] == ["0", "1"]   # conv, relu


def test_set_gives_symbols_values(server: PlaygroundServer) -> None:
    text = CONV.replace("[3, 8, 8]", "[C, 8, 8]")
    status, answer = analyze(server, text, ["C=3"])
    assert answer["ok"], answer
    assert answer["report"]["summary"]["totals"]["params"] == CONV_PARAMS
    assert answer["report"]["source"]["settings"] == {"C": "3"}
    _, symbolic = analyze(server, text)
    assert symbolic["report"]["summary"]["totals"]["params"] == "36*C + 4"  # 3*3*C*4 + 4


def test_a_spec_error_is_answered_at_its_line(server: PlaygroundServer) -> None:
    text = "input: [3, 8, 8]\nlayers:\n  - relu\n  - conv: {out: 4, k: 3, bogus: 1}\n"
    status, answer = analyze(server, text)
    assert status == 200 and answer["ok"] is False
    error = answer["error"]
    assert (error["file"], error["line"]) == ("<playground>", 4)
    assert 1 <= error["column"] <= len(text.splitlines()[3])
    assert "bogus" in error["message"]


def test_bad_yaml_and_bad_set_are_answered_as_errors(server: PlaygroundServer) -> None:
    _, answer = analyze(server, "input: [3, 8\nlayers: []\n")
    assert answer["ok"] is False and answer["error"]["line"] is not None
    _, answer = analyze(server, CONV, ["K="])
    assert answer["ok"] is False and "NAME=VALUE" in answer["error"]["message"]
    assert answer["error"]["line"] is None


def test_no_code_runs_from_the_page(server: PlaygroundServer, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = (f"input: !!python/object/apply:os.system ['touch {marker}']\n"
            "layers: [relu]\n")
    _, answer = analyze(server, text)
    assert answer["ok"] is False and answer["error"]["line"] == 1
    assert not marker.exists()


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/nothing", 404), ("POST", "/api/other", 404), ("GET", "/api/analyze", 405),
    ("PUT", "/", 405), ("DELETE", "/api/analyze", 405), ("POST", "/", 405),
])
def test_other_paths_and_methods(server: PlaygroundServer, method: str, path: str,
                                 status: int) -> None:
    got, headers, body = request(server, method, path, b"{}" if method != "GET" else None)
    assert got == status
    assert json.loads(body)["ok"] is False
    if status == 405:
        assert headers["Allow"]


def test_a_body_past_the_spec_limit_is_413(server: PlaygroundServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_SPEC_CHARS", 1000)   # read at call time
    status, answer = analyze(server, "#" * 1001)
    assert status == 413 and "MAX_SPEC_CHARS" in answer["error"]["message"]
    huge = b" " * (6 * 1000 + 65536 + 1)                 # past any JSON of 1000 characters
    status, _, body = request(server, "POST", "/api/analyze", huge)
    assert status == 413
    assert analyze(server, CONV)[1]["ok"]                 # and the server is still there


def test_malformed_requests(server: PlaygroundServer) -> None:
    for body in (b"not json", b'{"spec": 3}', b'{"spec": "a", "set": "K=3"}', b"[]"):
        assert request(server, "POST", "/api/analyze", body)[0] == 400
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with connection:
        connection.sendall(b"POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                           % server.port)
        assert connection.recv(100).startswith(b"HTTP/1.1 411")


def test_other_hosts_and_origins_are_refused(server: PlaygroundServer) -> None:
    assert request(server, "GET", "/", headers={"Host": "evil.example:80"})[0] == 403
    body = json.dumps({"spec": CONV}).encode()
    assert request(server, "POST", "/api/analyze", body,
                   {"Origin": "http://evil.example"})[0] == 403
    assert request(server, "POST", "/api/analyze", body,
                   {"Origin": f"http://127.0.0.1:{server.port}"})[0] == 200


def test_the_page_answers_with_security_headers(server: PlaygroundServer) -> None:
    status, headers, _ = request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "connect-src 'self'" in headers["Content-Security-Policy"]


def test_an_analysis_past_the_time_limit_is_stopped() -> None:
    """A real slow spec (densenet121 with its derivations: about 1.7 s) under 0.05 s."""
    text = (Path(limits.__file__).parents[2] / "examples" / "densenet121.yaml").read_text()
    with serve(port=0, time_limit=0.05) as running:
        analyze(running, CONV)                           # the worker is up
        started = time.monotonic()
        _, answer = analyze(running, text)
        assert time.monotonic() - started < 1.5
        assert answer["ok"] is False
        assert "took longer than 0.05 s" in answer["error"]["message"]
        assert answer["error"]["file"] == "<playground>"
        running.analyser.time_limit = 30                 # a fresh worker answers again
        assert analyze(running, CONV)[1]["ok"]


def test_a_hung_worker_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake worker that never answers: the request ends at the limit, and the next one
    goes to a new worker."""
    hang = "import sys, time; print('ready', flush=True); sys.stdin.readline(); time.sleep(600)"
    monkeypatch.setattr(worker, "WORKER_COMMAND", hang)
    with serve(port=0, time_limit=0.5) as running:
        first = running.analyser.process
        started = time.monotonic()
        _, answer = analyze(running, CONV)
        assert 0.5 <= time.monotonic() - started < 5
        assert "took longer than 0.5 s" in answer["error"]["message"]
        assert first is not None and first.poll() is not None     # killed
        assert running.analyser.process is not first


def test_shutdown_ends_an_analysis_under_way(monkeypatch: pytest.MonkeyPatch) -> None:
    hang = "import sys, time; print('ready', flush=True); sys.stdin.readline(); time.sleep(600)"
    monkeypatch.setattr(worker, "WORKER_COMMAND", hang)
    running = serve(port=0, time_limit=300)
    answers: list[Any] = []
    waiting = threading.Thread(target=lambda: answers.append(analyze(running, CONV)))
    waiting.start()
    time.sleep(1.0)                                   # the request is inside the worker
    started = time.monotonic()
    running.shutdown()
    waiting.join(10)
    assert time.monotonic() - started < 5
    assert answers and answers[0][1]["ok"] is False
    assert running.analyser.process is None


def test_a_dead_worker_is_reported_and_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "WORKER_COMMAND", "import os; os._exit(3)")
    with serve(port=0) as running:
        _, answer = analyze(running, CONV)
        assert answer["ok"] is False and "stopped unexpectedly" in answer["error"]["message"]


def test_ref_reads_only_beside_the_spec_file(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(limits.REF_OUTSIDE_ENV, "1")      # ignored by the playground
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "block.yaml").write_text("input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, k: 3}\n")
    (tmp_path / "outside.yaml").write_text("input: [3, 8, 8]\nlayers: [relu]\n")
    main = folder / "main.yaml"
    main.write_text("input: [3, 8, 8]\nlayers:\n  - ref: block.yaml\n")
    with serve(main, port=0) as running:
        _, answer = analyze(running, main.read_text())
        assert answer["ok"], answer
        assert answer["report"]["summary"]["totals"]["params"] == CONV_PARAMS
        _, answer = analyze(running, "input: [3, 8, 8]\nlayers:\n  - ref: ../outside.yaml\n")
        assert answer["ok"] is False and answer["error"]["line"] == 3
        assert answer["error"]["file"] == "main.yaml"


def test_without_a_spec_file_ref_reads_the_examples_only(server: PlaygroundServer) -> None:
    text = "input: [3, 8, 8]\nlayers:\n  - ref: ../../../pyproject.yaml\n"
    _, answer = analyze(server, text)
    assert answer["ok"] is False and "outside" in answer["error"]["message"]


def test_other_hosts_need_allow_remote() -> None:
    with pytest.raises(UsageError, match="--allow-remote"):
        create_server(host="0.0.0.0", port=0)
    result = CliRunner().invoke(app, ["playground", "--host", "0.0.0.0", "--no-open"])
    assert result.exit_code == 2
    assert "--allow-remote" in result.output
    create_server(host="0.0.0.0", port=0, allow_remote=True).shutdown()


def test_the_command_warns_for_remote_and_stops_on_ctrl_c(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: PlaygroundServer, *args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(PlaygroundServer, "serve_forever", interrupted)
    result = CliRunner().invoke(app, ["playground", "--host", "0.0.0.0", "--allow-remote",
                                      "--port", "0", "--no-open"])
    assert result.exit_code == 0, result.output
    assert "warning: serving on 0.0.0.0" in result.output
    assert "stopped" in result.output


def test_a_missing_spec_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["playground", str(tmp_path / "no.yaml"), "--no-open"])
    assert result.exit_code == 2 and "no such file" in result.output


def children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def test_ctrl_c_stops_cleanly() -> None:
    """The real command in a subprocess: SIGINT → a message, exit 0, the port closed and
    the worker process gone."""
    command = [sys.executable, "-c", "from netanatomy.cli import main; main()",
               "playground", "--port", "0", "--no-open"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line, line + (process.stderr.read() if
                                                    process.stderr else "")
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass
        workers = children(process.pid)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_failed_connection_is_one_line_and_quiet_while_stopping(
        capsys: pytest.CaptureFixture[str]) -> None:
    """socketserver prints a traceback for any error of a connection; the playground prints
    one line, and nothing once it is stopping (Ctrl-C closes sockets under open reads)."""
    from netanatomy.playground.server import PlaygroundServer

    server = PlaygroundServer("127.0.0.1", 0, "input: [3, 8, 8]\nlayers: []\n")
    try:
        try:
            raise OSError(9, "Bad file descriptor")
        except OSError:
            server.handle_error(None, ("127.0.0.1", 5000))
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "OSError" in err and "Traceback" not in err
    finally:
        server.shutdown()
    try:
        raise OSError(9, "Bad file descriptor")
    except OSError:
        server.handle_error(None, ("127.0.0.1", 5000))
    assert capsys.readouterr().err == ""
