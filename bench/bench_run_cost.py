"""Benchmark: what a `runbook run` costs beyond its kernel.

For each read-only notebook, in one run: the CPU seconds of `runbook run NOTEBOOK --json` (the runner
process and its kernel: parameters, execution, findings, scrubbing, HTML, archive, manifest), against
the baseline of papermill executing a notebook that holds the same imports and nothing else (a kernel
that starts and imports what the runbook needs). Each side is also split into its own process (the runner,
papermill) and its kernel (``runbook run`` forks its kernel, opslib/runner/forked_kernel.py: still its child, reaped
by it, with CPU of its own from the fork on). Both are children of this process; their CPU
(user+system, kernel included: each reaps its kernel) is read from RUSAGE_CHILDREN. The baseline's papermill
skips the optional libraries of jsonschema's format checkers as `runbook` does (see opslib/jsonschema_formats.py):
rfc3987-syntax's grammar alone is about 3 s of CPU per process that no notebook needs, which would otherwise
inflate the baseline.
A second ratio isolates what the runner adds: ``runbook run`` against papermill executing the *same* notebook
with its default parameters (the same kernel work, without the runner's parameters check, preflight, scrubbing,
HTML, archive and manifest).
With ``--repeat N`` the commands run in N alternating rounds and each side's median counts. The sandbox runs in this process (as in
the tests), so its CPU serving the notebooks' AWS calls is not counted. Prints per-notebook ratios
and the median. A benchmark, not a test: nothing is asserted.

    .venv/bin/python bench/bench_run_cost.py [--repeat 1] [--notebooks a,b]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from opslib.jsonschema_formats import SKIPPED  # noqa: I001  (first: nbformat would compile rfc3987-syntax's grammar)

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
# each command reports, as its last line on stderr, its own CPU and its children's (the kernel's): the split
SPLIT = ("import atexit, resource, sys\n"
         "def _split():\n"
         "    s, c = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
         "    print('cpu-split', s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime, file=sys.stderr)\n"
         "atexit.register(_split)\n")
# papermill's own CLI, without the optional libraries of jsonschema's format checkers (rfc3987-syntax's grammar...),
# as every process importing opslib runs (see opslib/jsonschema_formats.py)
PAPERMILL = SPLIT + f"sys.modules.update(dict.fromkeys({SKIPPED!r})); from papermill.cli import papermill; papermill()"
RUNBOOK = SPLIT + "from opslib.cli import run; run()"


def cpu_of(cmd: list[str], env: dict) -> tuple[float, float]:
    """(CPU seconds of the command and its children, of which its own process's)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[-6:])} exited {proc.returncode}: {proc.stderr[-2000:]}")
    own = float(proc.stderr.strip().splitlines()[-1].split()[1])
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), own


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The run of median total CPU (its own split with it)."""
    return sorted(runs)[(len(runs) - 1) // 2]


def imports_only(source: Path, target: Path) -> None:
    """A notebook with one code cell: every import line of ``source`` (its parameters cell kept, so
    papermill injects parameters the same way)."""
    nb = nbformat.read(source, as_version=4)
    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines += [ln for ln in cell.source.splitlines() if ln.startswith(("import ", "from "))]
    params = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    out.cells = params + [nbformat.v4.new_code_cell("\n".join(dict.fromkeys(lines)))]
    nbformat.write(out, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="alternating pairs of runs; each side's median counts")
    parser.add_argument("--notebooks", help="comma-separated names (default: every read-only notebook)")
    args = parser.parse_args()
    from opslib.runner.catalog import discover
    from opslib.sandbox.core import Sandbox, SandboxConfig
    from opslib.sandbox.daemon import start_control
    from opslib.sandbox.state import SANDBOX_DIR_ENV

    names = args.notebooks.split(",") if args.notebooks else [n.name for n in discover() if n.read_only]
    with tempfile.TemporaryDirectory(prefix="bench-run-cost-") as tmp:
        tmp = Path(tmp)
        sb = Sandbox.start(SandboxConfig(dir=tmp / "sandbox", now=NOW, events=50_000))
        control = start_control(sb)
        sb.write_state(control_url=control.url)
        env = {**os.environ, SANDBOX_DIR_ENV: str(sb.config.dir)}
        rows = []
        try:
            for name in names:
                base_nb = tmp / f"{name}-imports.ipynb"
                imports_only(NOTEBOOKS / f"{name}.ipynb", base_nb)
                ours_runs, base_runs, same_runs = [], [], []
                for _ in range(args.repeat):
                    ours_runs.append(cpu_of([sys.executable, "-c", RUNBOOK, "run", name,
                                             "--archive", str(tmp / "runs"), "--json"], env))
                    base_runs.append(cpu_of([sys.executable, "-c", PAPERMILL, "--no-progress-bar", "--cwd",
                                             str(NOTEBOOKS), str(base_nb), str(tmp / f"{name}-out.ipynb")], env))
                    same_runs.append(cpu_of([sys.executable, "-c", PAPERMILL, "--no-progress-bar", "--cwd",
                                             str(NOTEBOOKS), str(NOTEBOOKS / f"{name}.ipynb"),
                                             str(tmp / f"{name}-same.ipynb")], env))
                (ours, ours_own), (base, base_own) = _median(ours_runs), _median(base_runs)
                same = _median(same_runs)[0]
                rows.append((name, base, ours, same))
                print(f"{name:24} baseline {base:6.2f} (papermill {base_own:.2f}, kernel {base - base_own:.2f})  "
                      f"runbook run {ours:6.2f} (runner {ours_own:.2f}, kernel {ours - ours_own:.2f})  "
                      f"ratio {ours / base:5.2f}x; papermill on the notebook itself {same:6.2f} "
                      f"(runner's ratio {ours / same:5.2f}x)", flush=True)
        finally:
            control.shutdown()
            sb.stop()
    ratios = [ours / base for _, base, ours, _ in rows]
    runner = [ours / same for _, _, ours, same in rows]
    print(f"\n{'notebook':24} {'imports-only CPU s':>19} {'runbook run CPU s':>18} {'ratio':>7} "
          f"{'papermill, same nb':>19} {'ratio':>7}")
    for name, base, ours, same in rows:
        print(f"{name:24} {base:19.2f} {ours:18.2f} {ours / base:6.2f}x {same:19.2f} {ours / same:6.2f}x")
    print(f"median ratio {statistics.median(ratios):.2f}x over {len(rows)} notebooks (target <= 1.3x); "
          f"against papermill running the same notebook (the runner's own cost): {statistics.median(runner):.2f}x")
    print(json.dumps({"median_ratio": round(statistics.median(ratios), 3),
                      "median_runner_ratio": round(statistics.median(runner), 3)}))


if __name__ == "__main__":
    main()
