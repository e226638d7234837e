"""Progress on stderr for runs that take a while: a transient rich bar that appears only
after ``delay`` seconds and only when stderr is a terminal, so that quick runs, pipes,
files and in-process tests (CliRunner) see nothing, and stdout (tables, JSON, CSV) is
never touched."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import Progress

DELAY_S = 1.0
"""Seconds a run goes on before its bar appears."""


class DelayedProgress:
    """``with DelayedProgress("measuring", total=12) as bar: bar.update(3)``: a bar of
    ``total`` steps (None: no known total, a pulse) shown once the block has run
    ``delay`` seconds, erased when it ends."""

    def __init__(self, description: str, total: float | None = None,
                 delay: float = DELAY_S, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.state: dict[str, Any] = {"description": description, "total": total,
                                      "completed": 0}
        self.delay = delay
        self.lock = threading.Lock()
        self.progress: Progress | None = None
        self.task: Any = None
        self.timer: threading.Timer | None = None

    def __enter__(self) -> DelayedProgress:
        if self.console.is_terminal:
            self.timer = threading.Timer(self.delay, self.show)
            self.timer.daemon = True
            self.timer.start()
        return self

    def show(self) -> None:
        with self.lock:
            if self.timer is None:        # the block ended meanwhile
                return
            self.progress = Progress(console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task(**self.state)

    def update(self, completed: float | None = None, description: str | None = None) -> None:
        """Record how far the run is (and show it, once the bar is up)."""
        with self.lock:
            if completed is not None:
                self.state["completed"] = completed
            if description is not None:
                self.state["description"] = description
            if self.progress is not None:
                self.progress.update(self.task, completed=self.state["completed"],
                                     description=self.state["description"])

    def phase(self, description: str, total: float | None = None) -> None:
        """Start the next part of the run: a new bar (``total`` None: no known total)."""
        with self.lock:
            self.state = {"description": description, "total": total, "completed": 0}
            if self.progress is not None:
                self.progress.update(self.task, visible=False)
                self.task = self.progress.add_task(**self.state)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.progress is not None:
                self.progress.stop()
                self.progress = None
