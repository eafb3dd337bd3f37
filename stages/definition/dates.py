"""Every milestone's dates (``_resolve_dates``): deadline phrases and offsets resolved in the order they refer
to each other, each inside its stage's window and no earlier than what it waits for.
"""

from __future__ import annotations

import datetime as dt

from stages.definition.checker import _Checker, _phrase_length, _ref
from stages.definition.phrases import Period, parse_offset, parse_period
from stages.ground.errors import CalendarError, DeadlinePhraseError
from stages.ground.i18n import Msg

def _resolve_dates(ck: _Checker, raw: list[dict], by_key: dict, windows: dict[str, Period]):
    """Every milestone's (start, due, time). Offsets resolve after what they reference; cycles are reported."""
    pending: dict[tuple[str, str], tuple] = {}
    dates: dict[tuple[str, str], tuple] = {}
    for r in raw:
        all_ids = {m.id for m in r["ms"]}
        for idx, m, stage, _deps in r["kept"]:
            pending[(r["key"], m.id)] = (r, idx, m, stage, all_ids)
    progress = True
    while pending and progress:
        progress = False
        for key in list(pending):
            r, idx, m, stage, all_ids = pending[key]
            p = r["ms_path"] + (idx,)
            year = windows[stage].start.year
            _phrase_length(ck, m.due, *p, "due")
            _phrase_length(ck, m.start, *p, "start")
            off = parse_offset(m.due) if isinstance(m.due, str) else None
            if off is not None:
                ref = _ref(ck, r, off.ref, by_key, p + ("due",))
                rkey = tuple(ref.split(":", 1)) if ":" in ref else (r["key"], ref)
                if rkey not in dates:
                    if rkey not in pending:
                        ck.fail("config.offset_unknown_ref", *p, "due", ref=off.ref)
                    continue
                base = dates[rkey][1]
                try:
                    due = ck.cal.add_workdays(base, off.n) if off.workdays else base + dt.timedelta(days=off.n)
                except CalendarError as exc:
                    ck.fail(exc.msg or str(exc), *p, "due")
                except OverflowError:
                    ck.fail("config.offset_overflow", *p, "due", days=f"{off.n:+}", base=base,
                            expected=Msg("config.expect_offset_in_window"))
                start, time = base, None
            else:
                try:
                    per = parse_period(m.due, default_year=year)
                except DeadlinePhraseError as exc:
                    ck.fail(exc.msg or str(exc), *p, "due")
                start, due, time = per.start, per.end, per.time
            if m.start is not None:
                try:
                    start = parse_period(m.start, default_year=year).start
                except DeadlinePhraseError as exc:
                    ck.fail(exc.msg or str(exc), *p, "start")
            if start > due:
                ck.fail("config.starts_after_deadline", *p, "start", start=start, due=due)
            w = windows[stage]
            if not (w.start <= due <= w.end):
                ck.fail("config.deadline_outside_stage", *p, "due", due=due, phrase=m.due, stage=stage, start=w.start,
                        end=w.end, expected=Msg("config.expect_deadline_in_stage"))
            dates[key] = (start, due, time)
            del pending[key]
            progress = True
    if pending:
        (r, idx, m, *_rest) = next(iter(pending.values()))
        ck.fail("config.offset_circle", *r["ms_path"], idx, "due", milestone=m.id, due=m.due)
    # A milestone cannot start before what it waits for is due ("年底前" alone would start on 1 January), and a
    # milestone due before its own predecessor can never be on time: that is an error in the definition.
    changed = True
    while changed:
        changed = False
        for r in raw:
            for idx, m, _stage, deps in r["kept"]:
                start, due, time = dates[(r["key"], m.id)]
                for d in deps:
                    dkey = tuple(d.split(":", 1)) if ":" in d else (r["key"], d)
                    dep_due = dates[dkey][1]
                    if dep_due > due:
                        ck.fail("config.due_before_predecessor", *r["ms_path"], idx, "due", due=due,
                                dep=":".join(dkey), dep_due=dep_due, expected=Msg("config.expect_after_predecessors"))
                    if m.start is None and dep_due > start:
                        start = dep_due
                        changed = True
                dates[(r["key"], m.id)] = (start, due, time)
    return dates
