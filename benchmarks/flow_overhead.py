"""Benchmark: one action through its Prefect flow vs an empty Prefect flow, in the same process.

    python benchmarks/flow_overhead.py [--runs 20]

Both run on the embedded API (a temporary server this script starts once, like the CLI does), with flow
heartbeats off (a sync flow run costs ~1.1 s more with the heartbeat thread on). The action is a real
submit → review cycle on a fresh SQLite database of the Changning cycle, one milestone per run, so each run
does what a coordinator's click does: load the run, apply the rule, propagate, write audit and notices, commit,
emit events. It prints the median and p90 of each and the action's extra cost over the bare flow run.
Target: the action adds under 50 % to the bare flow run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()

    from prefect import flow
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from sqlmodel import Session, select

    from flows.actions import SubmitRequest, submit_deliverable
    from stages.definition.loader import load_cycle
    from stages.store.models import Milestone, create_schema, make_engine
    from stages.engine import init_run, review

    @flow(name="empty")
    def empty() -> dict:
        return {}

    url = f"sqlite:///{tempfile.mkdtemp(prefix='plancycle-bench-')}/flow.db"
    eng = make_engine(url)
    create_schema(eng)
    spec = load_cycle(ROOT / "config" / "cycles" / "changning-14th.yaml")
    with Session(eng) as s:
        init_run(s, spec, as_of="2019-06-01")
        s.commit()
        targets = s.exec(select(Milestone.item_key, Milestone.ms_id, Milestone.owner)
                         .where(Milestone.status == "open").order_by(Milestone.id)).all()

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        t = time.perf_counter()
        empty()  # starts the embedded API and warms everything up
        first = time.perf_counter() - t
        submit_deliverable(SubmitRequest(item=targets[0][0], milestone=targets[0][1], by=targets[0][2], db=url,
                                         as_of=dt.datetime(2019, 6, 5)))
        bare, action = [], []
        for i in range(args.runs):
            t = time.perf_counter()
            empty()
            bare.append(time.perf_counter() - t)
            item, ms, owner = targets[1 + i % (len(targets) - 1)]
            t = time.perf_counter()
            out = submit_deliverable(SubmitRequest(item=item, milestone=ms, by=owner, db=url,
                                                   as_of=dt.datetime(2019, 6, 5), key=f"bench-{i}"))
            action.append(time.perf_counter() - t)
            assert isinstance(out, dict), out
            with Session(eng) as s:  # untimed: return it, so that the next round can submit it again
                review(s, spec, item=item, milestone=ms, decision="return", by="区发改委", comments="bench",
                       as_of="2019-06-05")
                s.commit()

    def p90(xs):
        return sorted(xs)[int(0.9 * (len(xs) - 1))]

    mb, ma = statistics.median(bare), statistics.median(action)
    print(f"first flow run in this process (embedded API start): {first:.2f} s")
    print(f"empty flow   : median {mb * 1000:.0f} ms, p90 {p90(bare) * 1000:.0f} ms  ({args.runs} runs)")
    print(f"submit action: median {ma * 1000:.0f} ms, p90 {p90(action) * 1000:.0f} ms  ({args.runs} runs)")
    print(f"action adds {100 * (ma - mb) / mb:.0f} % to the bare flow run (target < 50 %)")


if __name__ == "__main__":
    main()
