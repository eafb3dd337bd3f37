"""Benchmark: the daily sweep against one bare SQL query that classifies the same rows.

    python benchmarks/sweep.py --scale 10000 --scale 100000 --scale 1000000

For each scale N it builds a synthetic database (N milestones spread over N/333 cycle runs, the size of one
Changning cycle, as if ~3,000 districts ran it: 1,000,000 milestones), then measures, each in a fresh process:

* bare  — one SELECT that classifies every open milestone green / yellow / red (GROUP BY the light);
* sweep — ``stages.engine.sweep.sweep``: the same classification, the three reminder rungs (INSERT…SELECT…ON
  CONFLICT DO NOTHING), the audit rows and the reminders queued as messages to the liaisons (enqueue_reminders), then COMMIT.
  ``cold`` is the first sweep (a backlog: every overdue milestone gets its 催办 and many an escalation);
  ``daily`` is the next working day's sweep (only what crossed a threshold overnight) — the steady state;
  ``again`` is a second sweep the same day (fires nothing; the idempotent path).

It prints seconds, the ratio to the bare query, and the process's peak RSS (flat in N is the target).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AS_OF = dt.datetime(2019, 9, 16, 9, 0)  # a Monday
NEXT = dt.datetime(2019, 9, 17, 9, 0)
PER_RUN = 333
DEPTS = [f"部门{i:02d}" for i in range(40)]


def build(url: str, n: int, seed: int = 7) -> None:
    from sqlalchemy import text

    from stages.store.models import create_schema, make_engine

    rnd = random.Random(seed)
    eng = make_engine(url)
    create_schema(eng)
    runs = max(1, (n + PER_RUN - 1) // PER_RUN)
    now = "2019-06-01 09:00:00"
    with eng.begin() as c:
        c.exec_driver_sql(
            "INSERT INTO cycle_run (id, spec_id, spec_version, spec_path, spec_checksum, schema_version, title, "
            "current_stage, status, created_at) VALUES (?, ?, 1, 'bench', 'x', 1, 'bench', 'research', 'active', ?)",
            [(r + 1, f"bench-{r + 1}", now) for r in range(runs)])
        items = []
        for r in range(runs):
            for j in range(PER_RUN // 10 + 1):
                items.append((r * 100 + j + 1, r + 1, f"item-{j}", "task", "t", "research", "[]", "[]", "active", now))
        c.exec_driver_sql("INSERT INTO item (id, run_id, key, kind, title, stage, lead, cooperating, status, created_at) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", items)
        batch = []
        base = AS_OF.date()
        for i in range(n):
            r = i // PER_RUN
            j = (i % PER_RUN) // 10
            status = rnd.choices(("open", "returned", "accepted", "pending"), (85, 5, 5, 5))[0]
            due = base + dt.timedelta(days=rnd.randint(-60, 120))
            batch.append((r + 1, r * 100 + j + 1, f"item-{j}", f"m{i}", "节点", "research", i % 10,
                          DEPTS[i % len(DEPTS)], status, due.isoformat(), due.isoformat()))
            if len(batch) == 50_000:
                _flush(c, batch)
                batch = []
        if batch:
            _flush(c, batch)
    eng.dispose()


def _flush(c, batch):
    c.exec_driver_sql(
        "INSERT INTO milestone (run_id, item_id, item_key, ms_id, name, stage, seq, owner, status, due_date, "
        "original_due, due_version, returns, ladder) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, 0)", batch)


def measure(url: str, what: str) -> dict:
    """Runs in its own process, so that peak RSS belongs to this one measurement."""
    from sqlalchemy import case, func, select
    from sqlmodel import Session

    from stages.definition.calendar import WorkCalendar
    from stages.store.models import Milestone, make_engine
    from stages.engine.sweep import sweep, yellow_cutoff
    from stages.paperwork.messages import enqueue_reminders

    cal = WorkCalendar.default()
    eng = make_engine(url)
    M = Milestone.__table__
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    if what == "bare":
        day = AS_OF.date()
        ycut = yellow_cutoff(cal, day, 5)
        light = case((M.c.due_date < day, "red"), (M.c.due_date <= ycut, "yellow"), else_="green")
        with eng.connect() as c:
            rows = c.execute(select(light, func.count()).where(M.c.status.in_(("open", "returned")))
                             .group_by(light)).all()
        result = {k: v for k, v in rows}
    else:
        when = {"cold": AS_OF, "again": AS_OF, "daily": NEXT}[what]
        with Session(eng) as s:  # what the daily sweep flow does in its transaction (flows/schedules.py)
            result = sweep(s, {}, cal, when)
            result["messages"] = enqueue_reminders(s, when, cal=cal)
            s.commit()
        result = {"fired": result["fired"], "messages": result["messages"], "lights": result["lights"]}
    secs = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"what": what, "seconds": secs, "peak_rss_mb": rss / 1024, "rss_growth_mb": (rss - rss0) / 1024,
            "result": result}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, action="append", help="milestones (repeatable); default 10k, 100k, 1M")
    ap.add_argument("--db", help="a SQLAlchemy URL template with {n} (default: a SQLite file per scale in a temp dir)")
    ap.add_argument("--_measure", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._measure:
        print(json.dumps(measure(*args._measure)))
        return
    scales = args.scale or [10_000, 100_000, 1_000_000]
    tmp = Path(tempfile.mkdtemp(prefix="plancycle-bench-"))
    print(f"{'milestones':>10} {'build s':>8} | {'bare s':>7} | {'cold s':>7} {'×bare':>6} | {'daily s':>7} {'×bare':>6} | "
          f"{'again s':>7} {'×bare':>6} | {'peak RSS MB (bare/cold/daily)':>30} | fired cold / daily")
    for n in scales:
        url = args.db.format(n=n) if args.db else f"sqlite:///{tmp / f'sweep-{n}.db'}"
        t = time.perf_counter()
        build(url, n)
        built = time.perf_counter() - t
        res = {}
        for what in ("bare", "cold", "again", "daily"):
            out = subprocess.run([sys.executable, __file__, "--_measure", url, what], capture_output=True, text=True,
                                 check=True, cwd=ROOT)
            res[what] = json.loads(out.stdout.strip().splitlines()[-1])
        b = res["bare"]["seconds"]
        fc, fd = res["cold"]["result"]["fired"], res["daily"]["result"]["fired"]
        print(f"{n:>10} {built:>8.1f} | {b:>7.3f} | {res['cold']['seconds']:>7.3f} {res['cold']['seconds'] / b:>6.1f} | "
              f"{res['daily']['seconds']:>7.3f} {res['daily']['seconds'] / b:>6.1f} | "
              f"{res['again']['seconds']:>7.3f} {res['again']['seconds'] / b:>6.1f} | "
              f"{res['bare']['peak_rss_mb']:>8.0f} / {res['cold']['peak_rss_mb']:>6.0f} / {res['daily']['peak_rss_mb']:>6.0f}      | "
              f"{sum(fc.values())} / {sum(fd.values())}", flush=True)
        if not args.db:
            os.remove(tmp / f"sweep-{n}.db")


if __name__ == "__main__":
    main()
