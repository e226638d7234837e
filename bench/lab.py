"""The lab's time budget: `netanatomy lab --all` in one fresh process, per experiment and in
total (target: every experiment passes, < 10 minutes in all, <= 30 s each); writes the
"## Lab" section of bench/RESULTS.md.

Run from the repository root::

    python bench/lab.py
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import results_file  # bench/ is on sys.path when a bench script runs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Lab"
TOTAL_BUDGET_S = 600.0
EACH_BUDGET_S = 30.0


def main() -> int:
    started = time.perf_counter()
    from netanatomy import lab  # imports count: a user's run pays them too

    with tempfile.TemporaryDirectory() as folder:
        run = lab.run_many(folder=folder)
        figures = {r.name: Path(r.figure_path or "").stat().st_size for r in run.results}
    total = time.perf_counter() - started
    load = os.getloadavg()
    results = sorted(run.results, key=lambda r: -r.seconds)
    slowest = results[0]
    lines = [SECTION, "",
             f"Produced by `python bench/lab.py` (from the repository root) on "
             f"{datetime.datetime.now():%Y-%m-%d %H:%M}. Machine: {platform.platform()}, "
             f"{os.cpu_count()} CPUs, python {platform.python_version()}; load average "
             f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} after the run.", "",
             "One fresh process runs `netanatomy.lab.run_many(folder=...)` (what "
             "`netanatomy lab --all -o DIR` runs), imports included; each experiment's "
             "seconds are its own `result.seconds` (figure drawing included, saving not).",
             "",
             f"- **{'PASS' if run.passed and total <= TOTAL_BUDGET_S else 'FAIL'}** — "
             f"{len(run.results)} experiments, {sum(r.passed for r in run.results)} passed, "
             f"in {total:.1f} s in all (target < {TOTAL_BUDGET_S:.0f} s)",
             f"- **{'PASS' if slowest.seconds <= EACH_BUDGET_S else 'FAIL'}** — slowest: "
             f"{slowest.name} {slowest.seconds:.2f} s (target <= {EACH_BUDGET_S:.0f} s each)",
             "", "| experiment | topic | verdict | seconds | figure |", "|---|---|---|---:|---:|"]
    lines += [f"| {r.name} | {r.experiment.topic} | {r.verdict} | {r.seconds:.2f} | "
              f"{figures[r.name] / 1024:.0f} kB |" for r in results]
    results_file.write_section(RESULTS, SECTION, [*lines, ""])
    print("\n".join(lines))
    return 0 if run.passed and total <= TOTAL_BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
