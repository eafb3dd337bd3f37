"""The demo's driver: a fresh database, the simulated clock run day by day (each working day's sweep and report
day, then what the day's agenda holds and what people decide), a line and the board at each stage change, and at
the end the documents, the 台账 and the calendar written out and a summary returned."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path

from sqlmodel import Session, func, select

from flows.demo.decisions import Decisions
from flows.demo.moves import Moves
from flows.demo.script import END, GRACE_DAYS, demo_fill
from flows.demo.users import create_demo_users
from stages.ground.errors import PlancycleError
from stages.ground.paths import DEFAULT_CYCLE


class Demo(Decisions, Moves):
    def __init__(self, out: Path, seed: int, db_url: str | None, console, until: dt.date | None = END,
                 config: str | os.PathLike | None = None, board_printer=None):
        """``board_printer(data, console)`` prints the board at the first stage changes (the CLI passes its
        own, ``app.render.print_board``); without one, a stage change is its line and its counts."""
        self.out = out
        self.config = Path(config) if config else DEFAULT_CYCLE
        self.board_printer = board_printer
        self.until = until
        self.rng = random.Random(seed)
        self.console = console
        self.db_url = db_url or f"sqlite:///{(out / 'plancycle-demo.db').resolve()}"
        self.agenda: dict[dt.date, list] = defaultdict(list)
        self.seen_open: set = set()
        self.seen_submitted: set = set()
        self.to_return: set = set()
        self.meetings: set = set()
        self.slips: dict[tuple[str, str], dt.date] = {}  # milestones a may_force gate waits for, and when they come
        self.forced: list[dict] = []
        self.advance_scheduled: str | None = None
        self.flow_runs = 0
        self.flow_seconds = 0.0
        self.timings: Counter = Counter()
        self.gates_printed: list[str] = []

    # -- plumbing -----------------------------------------------------------------------------------------------
    def call(self, flow_fn, *args, **kwargs):
        t = time.perf_counter()
        state = flow_fn(*args, return_state=True, **kwargs)
        self.flow_runs += 1
        dt_ = time.perf_counter() - t
        self.flow_seconds += dt_
        self.timings[flow_fn.name] += dt_
        if not state.is_completed():
            raise PlancycleError(f"demo step {flow_fn.name} refused: {state.message}")
        return state.result()

    def workday(self, day: dt.date) -> bool:
        return self.cal.is_workday(day)

    def add_wd(self, day: dt.date, n: int) -> dt.date:
        """``n`` working days on; where that leaves the working-day calendar (a year whose holidays are not yet
        published: chinesecalendar ends with 2026), the simulated office acts on the day itself."""
        from stages.ground.errors import CalendarError

        try:
            return self.cal.add_workdays(day, n)
        except CalendarError:
            return day

    def at(self, day: dt.date, hour: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, 0))

    def later(self, day: dt.date, order: int, fn, *args) -> None:
        self.agenda[day].append((order, len(self.agenda[day]), fn, args))

    def session(self):
        return Session(self.engine)

    # -- setup ----------------------------------------------------------------------------------------------------
    def setup(self):
        from flows.common import engine_for
        from stages.definition.loader import load_cycle
        from stages.paperwork.drafting import after
        from stages.engine import calendar_for, init_run

        db_file = self.out / "plancycle-demo.db"
        for f in (db_file, Path(str(db_file) + "-wal"), Path(str(db_file) + "-shm")):
            if f.exists():
                f.unlink()
        spec = self.spec = load_cycle(self.config)
        self.cal = calendar_for(spec)
        self.fill = demo_fill(spec)
        from stages.paperwork.notices import load_config

        cft = load_config(spec.notices_path).get("call_for_tender") or {}
        self.apply_days = int(cft.get("apply_within_workdays", 7))  # the call's application window
        self.last_stage = spec.stages[-1].id
        # the first day: the month of the first deadline (a work plan is issued a little before its first step)
        first_due = min((m.due_date for it in spec.items for m in it.milestones), default=spec.first_day)
        self.start = max(spec.first_day, first_due.replace(day=1))
        self.end = self.until or spec.last_day
        self.engine = engine_for(self.db_url)
        with self.session() as s:
            out = init_run(s, spec, as_of=self.at(self.start, 9))
            after(s, spec, out, as_of=self.at(self.start, 9))
            s.commit()
        self.users = create_demo_users(self.engine, spec)
        self.script_special_plans()
        self.script_extension()
        self.script_slips()

    def print_gate(self, day, stages, override):
        from stages.views.board import board

        with self.session() as s:
            data = board(s, self.spec, self.at(day, 17))
        self.console.print(f"\n[bold]{day}: stage {', '.join(stages)}[/bold]"
                           + (f"  [red](gate forced: {override})[/red]" if override else ""))
        counts = data["counts"]["by_light"]
        self.console.print("  milestones: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if len(self.gates_printed) < 3 and self.board_printer is not None:
            self.board_printer(data, self.console)
        self.gates_printed.append(day.isoformat())

    # -- the run ------------------------------------------------------------------------------------------------
    def unfinished(self) -> int:
        from stages.store.models import Milestone

        with self.session() as s:
            return s.exec(select(func.count()).select_from(Milestone).where(
                Milestone.status.in_(["pending", "open", "submitted", "returned"]))).one()

    def run(self) -> dict:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from stages.engine import find_run
        from stages.paperwork.drafting import report_day_of

        t0 = time.perf_counter()
        self.setup()
        stop = self.until or (self.end + dt.timedelta(days=GRACE_DAYS))
        # never past the calendar: a day it does not know cannot be swept (its holidays are not published yet)
        stop = min(stop, dt.date(self.cal.known_years()[1], 12, 31))
        days = (stop - self.start).days + 1
        complete_on = None
        last = self.start
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[day]}"),
                      TimeElapsedColumn(), console=self.console, transient=True) as bar:
            task = bar.add_task("simulating", total=(self.end - self.start).days + 1, day="")
            for n in range(days):
                day = last = self.start + dt.timedelta(days=n)
                if self.workday(day):
                    self.sweep(day)
                    if day == report_day_of(self.spec, self.cal, day.year, day.month):  # the schedule's run files it
                        self.monthly(day)
                for order, _i, fn, args in sorted(self.agenda.pop(day, []), key=lambda x: (x[0], x[1])):
                    fn(day, *args)
                self.plan_new_work(day)
                self.check_gate(day)
                # anything scheduled for today by today's events runs today too
                while self.agenda.get(day):
                    for order, _i, fn, args in sorted(self.agenda.pop(day), key=lambda x: (x[0], x[1])):
                        fn(day, *args)
                    self.plan_new_work(day)
                    self.check_gate(day)
                if self.workday(day):
                    self.unblock(day)
                    self.sign_drafts(day)
                bar.update(task, advance=1, day=str(day))
                with self.session() as s:
                    complete = find_run(s, self.spec.id).status == "complete"
                if complete and complete_on is None:
                    complete_on = day
                if complete and self.unfinished() == 0:
                    break
        sim_seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        outputs = self.export(last)
        return {"complete_on": complete_on, "last_day": last, "sim_seconds": sim_seconds,
                "export_seconds": time.perf_counter() - t1, "outputs": outputs}

    def export(self, day: dt.date) -> dict:
        from stages.paperwork.exports import write_calendar, write_ledger
        from stages.views.board import board
        from stages.store.models import Notice
        from stages.paperwork.notices import render_notice
        from stages.views.reads import ledger_rows

        # Written beside the final names and moved into place at the end, so an interrupted export never leaves a
        # partial notices/ folder that looks complete: `notices.partial/` (and its INCOMPLETE marker) is what a
        # killed export leaves, and the next run removes it and writes everything again.
        notices_dir = self.out / "notices"
        partial = self.out / "notices.partial"
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        (partial / "INCOMPLETE").write_text("export interrupted; run the demo again to finish it\n", encoding="utf-8")
        with self.session() as s:
            ids = s.exec(select(Notice.id).where(Notice.status == "issued").order_by(Notice.id)).all()
            for nid in ids:
                for fmt in ("docx", "md"):
                    n, data = render_notice(s, nid, fmt)
                    label = n.doc_number or (n.data or {}).get("genre") or n.kind  # 公告, 公示, 简报 carry no number
                    name = f"{n.id:05d}-{n.kind}-{label.replace('〔', '(').replace('〕', ')')}.{fmt}"
                    (partial / name).write_bytes(data)
            when = self.at(day, 18)
            ledger = write_ledger(ledger_rows(s, self.spec, when), self.out / "台账.xlsx.partial",
                                  self.spec.file.title + "台账")
            ics = write_calendar(board(s, self.spec, when), self.out / "deadlines.ics.partial", when)
        (partial / "INCOMPLETE").unlink()
        if notices_dir.exists():
            shutil.rmtree(notices_dir)
        os.replace(partial, notices_dir)
        os.replace(ledger, self.out / "台账.xlsx")
        os.replace(ics, self.out / "deadlines.ics")
        return {"notices": len(ids), "ledger": str(self.out / "台账.xlsx"), "calendar": str(self.out / "deadlines.ics"),
                "notices_dir": str(notices_dir)}

    def summary(self, result: dict) -> dict:
        from stages.store.models import Figure, Item, Milestone, Notice, Reminder, Submission

        with self.session() as s:
            items = Counter(k for k in s.exec(select(Item.kind)))
            by_kind = Counter(k for k in s.exec(select(Notice.kind).where(Notice.status == "issued")))
            issued = s.exec(select(Notice).where(Notice.status == "issued")).all()
            by_genre = Counter(n.data.get("genre", n.kind) for n in issued)
            numbered = sum(1 for n in issued if n.doc_number)
            drafts_left = s.exec(select(func.count()).select_from(Notice).where(Notice.status == "draft")).one()
            rungs = Counter(r for r in s.exec(select(Reminder.rung)))
            late = s.exec(select(func.count(func.distinct(Milestone.item_key))).select_from(Milestone).join(
                Submission, Submission.milestone_id == Milestone.id).where(
                func.date(Submission.submitted_at) > Milestone.due_date)).one()
            returned = s.exec(select(func.count()).select_from(Milestone).where(Milestone.returns > 0)).one()
            rejected = s.exec(select(func.count()).select_from(Item).where(Item.status == "rejected")).one()
            dormant = s.exec(select(func.count()).select_from(Milestone).where(Milestone.status == "dormant")).one()
            figures = s.exec(select(func.count()).select_from(Figure)).one()
        example = next((d for d in self.spec.departments if d.kind == "department"
                        and d.short != self.spec.coordinator.short), self.spec.coordinator)
        return {"cycle": self.spec.id, "title": self.spec.file.title, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "users": self.users, "example_user": f"{example.id} ({example.short})",
                "items": dict(items), "special_plans_rejected": rejected, "notices_by_kind": dict(by_kind),
                "documents_by_genre": dict(by_genre), "numbered_documents": numbered, "drafts_unsigned": drafts_left,
                "reminders": dict(rungs), "items_with_late_submissions": late, "milestones_returned": returned,
                "milestones_unfinished": self.unfinished(), "optional_not_triggered": dormant,
                "figures_reported": figures, "gates_forced": self.forced, "flow_runs": self.flow_runs,
                "flow_seconds": round(self.flow_seconds, 1), "by_flow": {k: round(v, 1) for k, v in self.timings.items()},
                **{k: (round(v, 1) if isinstance(v, float) else v) for k, v in result.items() if k != "outputs"},
                **result["outputs"]}


class InProcessDemo(Demo):
    """The same moves through the same code, each step's flow function called in this process without Prefect,
    and no export: how the tests drive a whole cycle in a fraction of the time."""

    def call(self, flow_fn, *args, **kwargs):
        from flows.runner import run_in_process

        self.flow_runs += 1
        return run_in_process(flow_fn, *args, **kwargs)

    def export(self, day):
        return {}


def run_demo(out: Path, seed: int, db_url: str | None = None, console=None, until: dt.date | None = END,
             config: str | os.PathLike | None = None, board_printer=None) -> dict:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from rich.console import Console

    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    demo = Demo(out, seed, db_url, console, until, config, board_printer)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        result = demo.run()
    return demo.summary(result)
