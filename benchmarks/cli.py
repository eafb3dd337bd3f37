"""Benchmark: the command line as a user meets it, each call a fresh process (wall time, median of N).

    python benchmarks/cli.py [--runs 7] [--flows auto|never|always]

On a fresh database of the Changning cycle (``plancycle init --as-of 2019-06-01``) it times:

- an action: ``propose`` (a new 专项规划 each run: a real write, audit entries, its notice checks);
- the same action refused before any flow: a missing attachment, an unknown department;
- the read views: ``status``, ``inbox``, ``timeline``.

Targets (issue 9): action ≤ 2 s, refusal < 1 s, status ≤ 0.4 s. ``--flows always`` times the old way (every
action through Prefect's embedded API, started by the process). The interpreter is ``sys.executable`` run
directly (a pyenv shim adds ~0.2 s to every call). The machine is shared: compare figures taken together.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "cycles" / "changning-14th.yaml"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--flows", choices=("auto", "never", "always"), default="auto")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="plancycle-bench-"))
    db = f"sqlite:///{work / 'bench.db'}"
    env = dict(os.environ, PLANCYCLE_DATABASE_URL=db, PLANCYCLE_FLOWS=args.flows, PYTHONPATH=str(ROOT),
               PLANCYCLE_RUN_DIR=str(work / "run"))
    env.pop("PLANCYCLE_DEBUG", None)

    def call(*argv: str, expect: int = 0) -> float:
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "app.cli", *argv], cwd=work, env=env, capture_output=True,
                           text=True, timeout=300)
        took = time.perf_counter() - t
        if p.returncode != expect:
            raise SystemExit(f"{' '.join(argv)}: exit {p.returncode}, expected {expect}: {p.stderr.strip()[:300]}")
        return took

    call("init", str(CONFIG), "--as-of", "2019-06-01")
    call("status", "--as-of", "2019-07-01")  # warm the spec cache and the OS's file cache once
    counter = iter(range(10_000))
    cases = {
        "action: propose": lambda: call("propose", "区商务委", f"长宁区测试专项规划{next(counter)}",
                                        "--as-of", "2019-07-01"),
        "refusal: missing file": lambda: call("submit", "topic-07", "plan", "--by", "区虹桥办", "--file",
                                              "不存在.docx", expect=2),
        "refusal: unknown department": lambda: call("submit", "topic-07", "plan", "--by", "区不存在局", expect=2),
        "status": lambda: call("status", "--as-of", "2019-07-01"),
        "inbox": lambda: call("inbox", "区虹桥办", "--as-of", "2019-07-01"),
        "timeline": lambda: call("timeline", "--as-of", "2019-07-01"),
    }
    targets = {"action: propose": 2.0, "refusal: missing file": 1.0, "refusal: unknown department": 1.0,
               "status": 0.4, "inbox": 0.4, "timeline": 0.4}
    bare = statistics.median(_bare() for _ in range(args.runs))
    print(f"plancycle CLI, {args.runs} runs each, PLANCYCLE_FLOWS={args.flows}, median wall time "
          f"(python -c pass: {bare:.2f} s)")
    for name, fn in cases.items():
        times = sorted(fn() for _ in range(args.runs))
        med = statistics.median(times)
        verdict = "ok" if med <= targets[name] else "over"
        print(f"  {name:<30} {med:6.2f} s   (min {times[0]:.2f}, max {times[-1]:.2f}; target "
              f"{'≤' if name.startswith(('action', 'status', 'inbox', 'timeline')) else '<'} {targets[name]} s: "
              f"{verdict})")


def _bare() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
