"""The playground's analyses, each in a worker process under a wall-clock limit.

The spec limits (:mod:`netanatomy.frontends.spec.limits`) already bound a spec's analysis
to about two seconds, but the playground analyses text typed into a page on every
keystroke, and a bound that holds "almost always" is not a server that cannot hang. So
each analysis runs in a worker process, one at a time, and the server waits at most
``time_limit`` seconds for its answer. A worker that overruns (or dies) is killed and
replaced, and the page gets an error saying so; the server's own threads never run spec
code. A process, not a thread, because a thread running sympy cannot be stopped; a fresh
interpreter (``python -c ...``) talking one JSON line per job over its stdin and stdout,
not :mod:`multiprocessing`, because ``fork`` would copy a threaded server half-locked and
``spawn`` re-runs the caller's main script (a notebook or a script calling :func:`serve`).

The worker is kept between analyses (a fresh interpreter importing sympy and netanatomy
takes about half a second, longer than most analyses) and announces that it is ready
before the clock of its first analysis starts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_TIME_LIMIT = 10.0
"""Seconds one analysis may take. The largest built-in example (densenet121) takes about
1.7 s with its derivations (``--explain``); a spec within the limits is meant to take under
two, so ten leaves room for a slow machine and stops anything that would never finish."""

STARTUP_LIMIT = 120.0
"""Seconds a fresh worker may take to import netanatomy before the server gives up."""

READY = "ready"

WORKER_COMMAND = "from netanatomy.playground.worker import worker_main; worker_main()"


@dataclass(frozen=True)
class Job:
    """One analysis: the spec text, the ``--set`` items, and where it is said to live."""

    text: str
    settings: tuple[str, ...]
    source: str
    """The name errors give as their file (the SPEC file's name, or ``<playground>``)."""
    directory: str
    """The folder ``ref:`` reads from (the SPEC file's folder, or the built-in examples)."""


def error_reply(message: str, file: str | None = None, line: int | None = None,
                column: int | None = None) -> dict[str, Any]:
    """The ``{"ok": false, "error": ...}`` answer; line and column 1-based or None."""
    return {"ok": False, "error": {"message": message, "file": file, "line": line,
                                   "column": column}}


def analyse(job: Job) -> dict[str, Any]:
    """The answer to one job: ``{"ok": true, "report": payload}`` or a located error.

    Runs in the worker process. No code from the page runs: the text is YAML read by the
    spec front-end's safe loader, and ``--set`` values are numbers or spec expressions.
    """
    from netanatomy.errors import NetanatomyError, SpecError

    try:
        return {"ok": True, "report": payload_of(job)}
    except SpecError as error:
        return error_reply(str(error), error.source, error.line or None,
                           error.column or None)
    except NetanatomyError as error:
        return error_reply(str(error), job.source)
    except RecursionError:
        return error_reply("the spec nests too deeply to analyse", job.source)
    except Exception as error:  # a bug, not the user's: reported, the worker lives on
        return error_reply(f"internal error ({type(error).__name__}: {error}); please "
                           "report it with the spec", job.source)


def payload_of(job: Job) -> dict[str, Any]:
    """The ``netanatomy.report/1`` payload of the job's spec, derivations included (as
    ``netanatomy report SPEC --set ...`` writes it)."""
    from netanatomy import spec
    from netanatomy.analysis.explain import explain
    from netanatomy.frontends.spec import load_spec
    from netanatomy.render.report_data import report_payload

    loaded = load_spec(job.text, source=job.source)
    loaded = dataclasses.replace(loaded, directory=Path(job.directory))
    values = spec.parse_assignments(list(job.settings))
    report = spec.analyze(loaded, values)
    source = {"kind": "spec", "target": job.source, "inputs": [],
              "settings": {name: str(value) for name, value in values.items()}}
    return report_payload(report, explanations=explain(report.graph), source=source)


def worker_main() -> None:
    """The worker process: answer each job line on stdin with one line on stdout."""
    import netanatomy.analysis.explain  # noqa: F401  (imported before the clock starts)
    import netanatomy.render.report_data  # noqa: F401
    import netanatomy.spec  # noqa: F401

    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr             # nothing the analysis prints can break the protocol
    answers.write(READY + "\n")
    answers.flush()
    for line in sys.stdin:
        try:
            job = Job(**json.loads(line))
        except (TypeError, ValueError):
            answer = error_reply("internal error: a malformed job reached the worker")
        else:
            answer = analyse(job)
        answers.write(json.dumps(answer, allow_nan=False) + "\n")
        answers.flush()


class WorkerGone(Exception):
    """The worker process ended (or never started) before it answered."""


class Analyser:
    """Runs jobs in a worker process, one at a time, each within ``time_limit`` seconds."""

    def __init__(self, time_limit: float = DEFAULT_TIME_LIMIT) -> None:
        self.time_limit = time_limit
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.buffer = b""
        self.ready = False
        self.closed = False

    def start(self) -> None:
        """Start a worker (if none runs and the analyser is open): it imports netanatomy
        while the server waits."""
        if self.process is not None or self.closed:
            return
        from netanatomy.frontends.spec import limits

        # The page's text is not a file the user chose to trust: ``ref:`` stays inside
        # the SPEC file's folder (and the built-in examples) whatever the environment says.
        environment = {k: v for k, v in os.environ.items() if k != limits.REF_OUTSIDE_ENV}
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER_COMMAND], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=environment)
        self.buffer, self.ready = b"", False

    def stop(self) -> None:
        """Kill the worker (if any), wait for it to end and close its pipes."""
        process, self.process, self.ready = self.process, None, False
        if process is not None:
            process.kill()
            process.wait(5)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()

    def replace(self) -> None:
        """A fresh worker for the next job (none once closed)."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the worker for good; later jobs are refused. An analysis under way ends at
        once (its worker is killed; the waiting request answers with an error)."""
        self.closed = True
        process = self.process
        if process is not None:
            process.kill()
        if self.lock.acquire(timeout=5):
            try:
                self.stop()
            finally:
                self.lock.release()

    def run(self, text: str, settings: Sequence[str], source: str, directory: Path
            ) -> str:
        """The JSON answer to one analysis (always an answer, never an exception)."""
        job = Job(text, tuple(settings), source, str(directory))
        with self.lock:
            if self.closed:
                return json.dumps(error_reply("the playground is shutting down"))
            try:
                return self.exchange(job)
            except (WorkerGone, OSError, ValueError):
                self.replace()
                return json.dumps(error_reply(
                    "the analysis stopped unexpectedly (the worker process ended, perhaps "
                    "out of memory); it has been restarted", source))

    def exchange(self, job: Job) -> str:
        self.start()
        if self.process is None:
            raise WorkerGone("the playground is shutting down")
        if not self.ready:
            if self.read_line(time.monotonic() + STARTUP_LIMIT) != READY:
                raise WorkerGone("the worker did not start")
            self.ready = True
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(dataclasses.asdict(job)).encode() + b"\n")
        self.process.stdin.flush()
        answer = self.read_line(time.monotonic() + self.time_limit)
        if answer is not None:
            return answer
        self.replace()
        return json.dumps(error_reply(
            f"the analysis took longer than {self.time_limit:g} s and was stopped; "
            "give the symbols values (the Set field, e.g. K=3) or shorten the spec "
            "(the spec limits are in docs/spec-format.md)", job.source))

    def read_line(self, deadline: float) -> str | None:
        """The worker's next line, or None at ``deadline``.

        Raises:
            WorkerGone: the worker's output ended first.
        """
        assert self.process is not None and self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise WorkerGone("the worker's output ended")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8")
