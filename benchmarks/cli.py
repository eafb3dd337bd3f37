"""Benchmark: the command line as a user meets it, each call a fresh process (wall time, median of N).

    python benchmarks/cli.py [--runs 7] [--flows auto|never|always] [--db FILE] [--importtime]

On a fresh database of the Changning cycle (``plancycle init --as-of 2019-06-01``) it times:

- an action: ``propose`` (a new 专项规划 each run: a real write, audit entries, its notice checks);
- the same action refused before any flow: a missing attachment, an unknown department;
- the read views: ``status``, ``inbox``, ``timeline`` (text and ``--json``), as the program answers them (the fast
  read path, ``app.fastread``) and with ``PLANCYCLE_FAST_READ=0`` (the normal path through SQLAlchemy), on the
  fresh database and, with ``--db FILE``, on a copy of FILE too (e.g. ``demo-out/plancycle-demo.db``, the
  finished two-year demo: every milestone, return and reminder of the cycle).

Each line gives the median wall time, its range, and the median CPU time (user + system) of the process: on a
shared machine the wall time is what is waited, the CPU time what the command itself costs. ``--importtime``
adds, for each read, the import time of the heavy packages and of all imports (``python -X importtime``).

Targets (issue 9): action ≤ 2 s, refusal < 1 s, each read ≤ 0.4 s. ``--flows always`` times the old way (every
action through Prefect's embedded API, started by the process). Every call runs the program the way the
``plancycle`` console script does (its entry point read from pyproject.toml), with ``sys.executable`` run
directly (a pyenv shim adds ~0.2 s to every call). The machine is shared: compare figures taken together.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "cycles" / "changning-14th.yaml"


def program() -> list[str]:
    """The console script's entry point (pyproject's [project.scripts] plancycle), as a command line."""
    entry = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["plancycle"]
    module, _, func = entry.partition(":")
    return [sys.executable, "-c", f"import sys; sys.argv[0] = 'plancycle'; from {module} import {func}; "
                                  f"sys.exit({func}())"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--flows", choices=("auto", "never", "always"), default="auto")
    ap.add_argument("--db", type=Path, help="also time the reads on a copy of this SQLite database")
    ap.add_argument("--importtime", action="store_true", help="show the heavy imports of each read")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="plancycle-bench-"))
    db = f"sqlite:///{work / 'bench.db'}"
    env = dict(os.environ, PLANCYCLE_DATABASE_URL=db, PLANCYCLE_FLOWS=args.flows, PYTHONPATH=str(ROOT),
               PLANCYCLE_RUN_DIR=str(work / "run"))
    for var in ("PLANCYCLE_DEBUG", "PLANCYCLE_FAST_READ", "PLANCYCLE_SPEC_CACHE"):
        env.pop(var, None)
    cmd = program()

    def call(*argv: str, expect: int = 0, extra: dict | None = None, flags: tuple = ()) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        p = subprocess.run([*cmd[:1], *flags, *cmd[1:], *argv], cwd=work, env={**env, **(extra or {})},
                           capture_output=True, text=True, timeout=300)
        took = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != expect:
            raise SystemExit(f"{' '.join(argv)}: exit {p.returncode}, expected {expect}: {p.stderr.strip()[:300]}")
        call.stderr = p.stderr
        return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    call("init", str(CONFIG), "--as-of", "2019-06-01")
    for extra in ({"PLANCYCLE_FAST_READ": "0"}, {}):  # warm the spec cache, the schema record, the OS's file cache
        call("status", "--as-of", "2019-07-01", extra=extra)
    counter = iter(range(10_000))
    cases: dict[str, tuple] = {
        "action: propose": (lambda: call("propose", "区商务委", f"长宁区测试专项规划{next(counter)}",
                                         "--as-of", "2019-07-01"), 2.0),
        "refusal: missing file": (lambda: call("submit", "topic-07", "plan", "--by", "区虹桥办", "--file",
                                               "不存在.docx", expect=2), 1.0),
        "refusal: unknown department": (lambda: call("submit", "topic-07", "plan", "--by", "区不存在局", expect=2), 1.0),
    }
    reads = [("status", "--as-of", "2019-07-01"), ("status", "--json", "--as-of", "2019-07-01"),
             ("inbox", "区虹桥办", "--as-of", "2019-07-01"), ("inbox", "区虹桥办", "--json", "--as-of", "2019-07-01"),
             ("timeline", "--as-of", "2019-07-01"), ("timeline", "--json", "--as-of", "2019-07-01")]
    databases = [("fresh", db)]
    if args.db:
        copy = work / "given.db"
        src = sqlite3.connect(f"file:{args.db.resolve()}?mode=ro", uri=True)
        dst = sqlite3.connect(copy)
        src.backup(dst)  # a consistent copy, WAL included; the given file is only read
        src.close()
        dst.close()
        databases.append((args.db.name, f"sqlite:///{copy}"))
        call("status", extra={"PLANCYCLE_DATABASE_URL": f"sqlite:///{copy}", "PLANCYCLE_FAST_READ": "0"})
    for label, url in databases:
        for argv in reads:
            day = ("--as-of", "2020-03-02") if label != "fresh" else ()
            full = argv if not day else (*argv[:-2], *day)
            name = " ".join(a for a in full if not a.startswith("20") and a != "--as-of")
            cases[f"{name} [{label}]"] = (lambda full=full, url=url: call(*full, extra={"PLANCYCLE_DATABASE_URL": url}),
                                          0.4)
            cases[f"{name} [{label}, normal path]"] = (
                lambda full=full, url=url: call(*full, extra={"PLANCYCLE_DATABASE_URL": url,
                                                              "PLANCYCLE_FAST_READ": "0"}), None)
            if args.importtime:
                call(*full, extra={"PLANCYCLE_DATABASE_URL": url}, flags=("-X", "importtime"))
                cases[f"{name} [{label}]"] += (_heavy(call.stderr),)

    bare = statistics.median(_bare() for _ in range(args.runs))
    print(f"plancycle CLI ({' '.join(cmd[1:3])[:60]}…), {args.runs} runs each, PLANCYCLE_FLOWS={args.flows}; "
          f"median wall (range) and median CPU; python -c pass: {bare:.2f} s")
    for name, (fn, target, *heavy) in cases.items():
        runs = [fn() for _ in range(args.runs)]
        walls = sorted(w for w, _ in runs)
        med = statistics.median(walls)
        cpu = statistics.median(c for _, c in runs)
        verdict = "" if target is None else (f"target {'<' if name.startswith('refusal') else '≤'} {target} s: "
                                             + ("ok" if med <= target else "over"))
        print(f"  {name:<36} {med:6.2f} s  ({walls[0]:.2f}–{walls[-1]:.2f})  cpu {cpu:5.2f} s  {verdict}"
              + (f"\n      imports: {heavy[0]}" if heavy else ""))


def _heavy(importtime: str) -> str:
    """Import time by package (the sum of its modules' own times, ``-X importtime``): the heavy ones, and all."""
    groups = {"sqlalchemy": ("sqlalchemy",), "sqlmodel": ("sqlmodel",), "typer": ("typer", "click"),
              "prefect": ("prefect",), "pydantic": ("pydantic", "pydantic_core", "annotated_types"),
              "rich": ("rich",), "stages": ("stages",)}
    got: dict[str, int] = {}
    total = 0
    for line in importtime.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
        if not m:
            continue
        total += int(m.group(1))
        top = m.group(2).split(".")[0]
        for name, tops in groups.items():
            if top in tops:
                got[name] = got.get(name, 0) + int(m.group(1))
    shown = ", ".join(f"{k} {got[k] / 1e6:.2f} s" for k in groups if k in got)
    missing = [k for k in groups if k not in got]
    return f"{shown}; all imports {total / 1e6:.2f} s" + (f" (none of {', '.join(missing)})" if missing else "")


def _bare() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
