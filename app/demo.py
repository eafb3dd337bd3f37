"""``plancycle demo``: the whole 14th-FYP cycle, 2019-06-01 to 2021-06-30, on a simulated clock.

A fresh database and the shipped Changning config; every action (submissions, reviews, contractors, proposals,
approvals, meetings, the epidemic extension, stage advances) and every working day's sweep runs through its real
Prefect flow, with ``as_of`` set to the simulated moment. Department behaviour is scripted from a seeded RNG: most
deliver on time, some late (and are chased), a few are returned and resubmit; one stage gate is forced with a
recorded reason. Same seed, same result.

This module is an adapter like the CLI: it decides what the simulated people do, never what the rules are.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import time
from collections import Counter, defaultdict
from pathlib import Path

from sqlmodel import Session, func, select

from stages.errors import PlancycleError

START = dt.date(2019, 6, 1)
END = dt.date(2021, 6, 30)
COORD = "区发改委"
FORCE_RESEARCH_EXIT = dt.date(2020, 1, 6)
LATE_CITY_ALIGNMENT = dt.date(2020, 1, 20)  # 市发改委's 衔接 meeting slips: the research gate is forced

PROPOSALS = [
    ("区商务委", "长宁区商务发展“十四五”规划"), ("区科委", "长宁区科技创新“十四五”规划"),
    ("区教育局", "长宁区教育改革和发展“十四五”规划"), ("区卫健委", "长宁区卫生健康事业发展“十四五”规划"),
    ("区民政局", "长宁区养老服务体系建设“十四五”规划"), ("区文化和旅游局", "长宁区文化和旅游发展“十四五”规划"),
    ("区体育局", "长宁区体育发展“十四五”规划"), ("区生态环境局", "长宁区生态环境保护“十四五”规划"),
    ("区绿化市容局", "长宁区绿化市容“十四五”规划"), ("区虹桥办", "长宁区城市更新“十四五”规划"),
    ("区房管局", "长宁区住房发展“十四五”规划"), ("区建管委", "长宁区综合交通“十四五”规划"),
    ("区人社局", "长宁区人力资源和社会保障“十四五”规划"), ("区金融办", "长宁区金融服务业发展“十四五”规划"),
    ("区临空办", "虹桥临空经济示范区“十四五”发展规划"), ("区地区办", "长宁区社区治理“十四五”规划"),
    ("区市场监管局", "长宁区市场监管“十四五”规划"), ("区应急管理局", "长宁区应急体系建设“十四五”规划"),
    ("区网格化中心", "长宁区城市数字化治理“十四五”规划"), ("区司法局", "长宁区法治政府建设“十四五”规划"),
]
RETURN_COMMENTS = ["研究框架需进一步聚焦，请补充数据支撑", "目标指标测算依据不足，请补充", "与市级相关规划衔接不够，请修改完善",
                   "成果格式不符合要求，请按模板修改", "重点任务表述需细化，明确时间表和路线图"]
# What the demo's planning office fills in before signing (the shipped notices.yaml leaves them as placeholders for
# a real office to fill): fictitious, for the simulation only.
DEMO_FILL = {"contact_person": "陈明（规划科）", "contact_phone": "021-22050000", "contact_email": "ghk@cnfgw.example.cn",
             "contact_address": "长宁区长宁路599号", "signer": "李伟", "place": "区发改委第一会议室"}
NOTES = ["按要求报送", "按要求报送", "按要求报送", "已征求相关部门意见并修改完善",
         "部分数据待统计年报发布后更新，下步将补充完善", "已召开专题会研究，下步按节点推进",
         "与市级主管部门对接中，个别内容待进一步衔接"]


class Demo:
    def __init__(self, out: Path, seed: int, db_url: str | None, console, until: dt.date = END):
        self.out = out
        self.until = until
        self.rng = random.Random(seed)
        self.console = console
        self.db_url = db_url or f"sqlite:///{(out / 'plancycle-demo.db').resolve()}"
        self.agenda: dict[dt.date, list] = defaultdict(list)
        self.seen_open: set = set()
        self.seen_submitted: set = set()
        self.to_return: set = set()
        self.meetings: set = set()
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
        return self.cal.add_workdays(day, n)

    def at(self, day: dt.date, hour: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, 0))

    def later(self, day: dt.date, order: int, fn, *args) -> None:
        self.agenda[day].append((order, len(self.agenda[day]), fn, args))

    # -- setup ----------------------------------------------------------------------------------------------------
    def setup(self):
        from app.cli import DEFAULT_CONFIG
        from flows.common import engine_for
        from stages.loader import load_cycle
        from stages.paperwork import after
        from stages.services import calendar_for, init_run

        db_file = self.out / "plancycle-demo.db"
        for f in (db_file, Path(str(db_file) + "-wal"), Path(str(db_file) + "-shm")):
            if f.exists():
                f.unlink()
        self.spec = load_cycle(DEFAULT_CONFIG)
        self.cal = calendar_for(self.spec)
        self.engine = engine_for(self.db_url)
        with Session(self.engine) as s:
            out = init_run(s, self.spec, as_of=self.at(START, 9))
            after(s, self.spec, out, as_of=self.at(START, 9))
            s.commit()
        self.users = create_demo_users(self.engine, self.spec)
        # the scripted calendar of one-off events
        days = [d for d in (START + dt.timedelta(n) for n in range(40, 115)) if self.workday(d)]
        for (dept, title), day in zip(PROPOSALS, sorted(self.rng.sample(days, len(PROPOSALS)))):
            self.later(day, 5, self.propose, dept, title)
        self.later(dt.date(2019, 11, 12), 5, self.approve, "leading_group", "special-plan-list",
                   "区发展规划工作领导小组会议审议同意专项规划立项清单")
        self.later(dt.date(2019, 11, 19), 6, self.register)
        self.later(dt.date(2020, 2, 10), 5, self.extend)

    # -- actions (each one flow run) ------------------------------------------------------------------------------
    def req(self, cls, day, hour=10, **kw):
        """A request made by the demo's signed-in people: a department's liaison for what the department does
        (submitting, proposing), the planning office's coordinator for everything else."""
        from stages.identity import Actor

        dept = kw.get("dept") if cls.__name__ == "ProposeRequest" else kw.get("by")
        coord = self.spec.coordinator
        if dept and self.spec.department(dept).short != coord.short:
            d = self.spec.department(dept)
            actor = Actor(user=d.id, name=f"{d.short}联络员", role="department", dept=d.short)
        else:
            actor = Actor(user="coord", name=f"{coord.short}规划科", role="coordinator", dept=coord.short)
        return cls(db=self.db_url, as_of=self.at(day, hour), actor=actor, **kw)

    def submit(self, day, item, ms, owner, note=None):
        from flows.actions import SubmitRequest, submit_deliverable

        with Session(self.engine) as s:
            from stages.models import Milestone

            m = s.exec(select(Milestone).where(Milestone.item_key == item, Milestone.ms_id == ms)).one()
            if m.status not in ("open", "returned"):
                return
        self.call(submit_deliverable, self.req(SubmitRequest, day, item=item, milestone=ms, by=owner,
                                               note=note or self.rng.choice(NOTES)))

    def review(self, day, item, ms):
        from flows.actions import ApproveRequest, ReviewRequest, record_approval, review_deliverable
        from stages.gates import predicates
        from stages.models import Item, Milestone
        from stages.services import ms_spec

        with Session(self.engine) as s:
            m = s.exec(select(Milestone).where(Milestone.item_key == item, Milestone.ms_id == ms)).one()
            if m.status != "submitted":
                return
            kind = s.exec(select(Item.kind).where(Item.key == item)).one()
            returns = m.returns
        if (item, ms) in self.to_return and returns == 0:
            self.call(review_deliverable, self.req(ReviewRequest, day, 15, item=item, milestone=ms, decision="return",
                                                   comments=self.rng.choice(RETURN_COMMENTS)))
            self.later(self.add_wd(day, self.rng.randint(3, 8)), 3, self.submit, item, ms, m.owner, "修改稿")
            return
        gate = ms_spec(self.spec, kind, item, ms).accept_requires
        if gate:  # the approvals this acceptance waits on are recorded first (领导小组, 区委, 区政府, 区人大)
            for p in predicates(self.spec.gate(gate)):
                if p.approval:
                    self.approve(day, p.approval.body, p.approval.subject, "会议审议通过")
        self.call(review_deliverable, self.req(ReviewRequest, day, 15, item=item, milestone=ms, decision="accept"))

    def approve(self, day, body, subject, note):
        from flows.actions import ApproveRequest, record_approval

        self.call(record_approval, self.req(ApproveRequest, day, 11, body=body, subject=subject, note=note))

    def propose(self, day, dept, title):
        from flows.actions import ProposeRequest, propose_special_plan

        self.call(propose_special_plan, self.req(ProposeRequest, day, dept=dept, title=title,
                                                 note="结合前期研究提出立项建议"))

    def register(self, day):
        from flows.actions import RegisterRequest, register_special_plans
        from stages.models import Item

        with Session(self.engine) as s:
            keys = sorted(s.exec(select(Item.key).where(Item.kind == "special_plan")).all())
        reject = sorted(self.rng.sample(keys, 3))
        self.call(register_special_plans, self.req(RegisterRequest, day, confirm=[k for k in keys if k not in reject],
                                                   reject=reject, reason="经综合平衡，纳入相关专项规划统筹编制"))

    def extend(self, day):
        from flows.actions import ExtendRequest, extend_deadlines

        self.call(extend_deadlines, self.req(ExtendRequest, day, due_from=dt.date(2020, 1, 1),
                                             due_to=dt.date(2020, 6, 30), days=30,
                                             reason="新冠肺炎疫情影响，2020年上半年各节点顺延30天"))

    def contractor(self, day, topic):
        from flows.actions import ContractorRequest, assign_contractor

        inst = self.rng.choice(["上海社会科学院", "复旦大学", "上海交通大学", "同济大学", "华东师范大学", "上海财经大学",
                                "上海市发展改革研究院", "中国（上海）自由贸易试验区研究院"])
        self.call(assign_contractor, self.req(ContractorRequest, day, topic=topic, contractor=f"{inst}课题组",
                                              contact=f"课题负责人 {self.rng.randint(13000000000, 13999999999)}"))

    def meeting(self, day, ms, when):
        """One meeting per round (开题 / 中期 / 结题评审) for every topic still to hold it."""
        from flows.actions import MeetingRequest, schedule_meeting

        if when <= self.at(day, 10):
            return
        self.call(schedule_meeting, self.req(MeetingRequest, day, 10, milestone=ms, at=when,
                                             place=DEMO_FILL["place"]))

    def sign_drafts(self, day):
        """The planning office signs off the day's drafts (filling what the settings leave blank)."""
        from flows.actions import SignDocumentRequest, sign_document
        from stages.models import Notice
        from stages.notices import missing

        with Session(self.engine) as s:
            drafts = [(n.id, missing(n.data, n.kind)) for n in s.exec(select(Notice).where(Notice.status == "draft")
                                                             .order_by(Notice.id))]
        for nid, gaps in drafts:
            self.call(sign_document, self.req(SignDocumentRequest, day, 17, notice=nid,
                                              changes={g: DEMO_FILL[g] for g in gaps if g in DEMO_FILL}))

    def advance(self, day, override):
        from flows.actions import AdvanceRequest, advance_stage

        with Session(self.engine) as s:
            from stages.services import find_run

            run = find_run(s, self.spec.id)
            leaving = run.current_stage
        out = self.call(advance_stage, self.req(AdvanceRequest, day, 16, from_stage=leaving, override_reason=override))
        self.advance_scheduled = None
        self.print_gate(day, out["stages"], override)

    def sweep(self, day):
        from flows.schedules import sweep_deadlines

        self.call(sweep_deadlines, as_of=self.at(day, 9), db=self.db_url)

    def monthly(self, day):
        from flows.schedules import monthly_progress_report

        self.call(monthly_progress_report, as_of=self.at(day, 9), db=self.db_url)

    # -- what the simulated people decide each day -----------------------------------------------------------------
    def plan_new_work(self, day):
        """Schedule what departments do about milestones that opened, and reviews of what was submitted."""
        from stages.models import Item, Milestone
        from stages.services import ms_spec

        with Session(self.engine) as s:
            kinds = {k: (kind, lead) for k, kind, lead in s.exec(select(Item.key, Item.kind, Item.lead))}
            rows = s.exec(select(Milestone).where(Milestone.status.in_(["open", "submitted"]))
                          .order_by(Milestone.item_key, Milestone.seq)).all()
            rows = [(m.item_key, m.ms_id, m.status, m.owner, m.due_date, m.returns) for m in rows]
        for item, ms, status, owner, due, returns in rows:
            kind, lead = kinds[item]
            if status == "submitted":
                key = (item, ms, returns)
                if key not in self.seen_submitted:
                    self.seen_submitted.add(key)
                    self.later(self.add_wd(day, self.rng.randint(1, 3)), 4, self.review, item, ms)
                continue
            if (item, ms) in self.seen_open:
                continue
            self.seen_open.add((item, ms))
            mspec = ms_spec(self.spec, kind, item, ms)
            if mspec.completes_when or (kind == "special_plan" and ms in ("proposal", "registration")):
                continue  # the system completes it / the proposal and 立项确认 follow their own script
            if ms == "contractor":
                self.later(self.add_wd(day, self.rng.randint(2, 7)), 2, self.contractor, item)
                continue
            if mspec.meeting is not None and ms not in self.meetings:
                self.meetings.add(ms)
                when = self.at(max(self.add_wd(due, -3), self.add_wd(day, 6)), 14)
                self.later(self.add_wd(day, 1), 1, self.meeting, ms, when)
            if item == "basic-approach" and ms == "city_alignment":
                self.later(LATE_CITY_ALIGNMENT, 3, self.submit, item, ms, owner, "报市发改委衔接（市里会议延期）")
                continue
            r = self.rng.random()
            if mspec.stage == "adoption":
                r = 0.0  # the 区政府's own deadlines in the last half-year: departments are punctual
            first = self.add_wd(day, 1)
            if r < 0.72 or due < first:  # on time (or as soon as it opens, if it opened late)
                hi = due - dt.timedelta(days=4) if mspec.stage == "adoption" else due  # room for the review
                lo = max(first, hi - dt.timedelta(days=12))
                span = max((hi - lo).days, 0)
                when = lo + dt.timedelta(days=self.rng.randint(0, span)) if due >= first else \
                    self.add_wd(day, self.rng.randint(1, 5))
            elif r < 0.90:  # late: chased by the sweep's reminders
                when = due + dt.timedelta(days=self.rng.randint(2, 18))
            else:  # on time, but returned once
                self.to_return.add((item, ms))
                when = max(first, due - dt.timedelta(days=self.rng.randint(0, 8)))
            if not self.workday(when):
                when = self.cal.next_workday(when)
            self.later(max(when, first), 3, self.submit, item, ms, owner)

    def check_gate(self, day):
        from stages.gates import evaluate
        from stages.services import facts_for, find_run

        if self.advance_scheduled:
            return
        with Session(self.engine) as s:
            run = find_run(s, self.spec.id)
            if run.status != "active":
                return
            st = self.spec.stage(run.current_stage)
            ok = evaluate(self.spec, st.exit_gate, facts_for(s, run)).ok if st.exit_gate else True
            gate_auto = self.spec.gate(st.exit_gate).automatic if st.exit_gate else False
        if gate_auto:
            return  # the system advances it inside the step that meets it
        if ok:
            self.advance_scheduled = st.id
            self.later(self.add_wd(day, 1), 9, self.advance, None)
        elif st.id == "research" and day >= FORCE_RESEARCH_EXIT:
            self.advance_scheduled = st.id
            self.later(day, 9, self.advance, "按全市进度要求先行启动规划编制阶段；《基本思路》报市衔接待市发改委安排，"
                                            "不影响编制工作")

    def print_gate(self, day, stages, override):
        from app.render import print_board
        from stages.board import board

        with Session(self.engine) as s:
            data = board(s, self.spec, self.at(day, 17))
        self.console.print(f"\n[bold]{day}: stage {', '.join(stages)}[/bold]"
                           + (f"  [red](gate forced: {override})[/red]" if override else ""))
        counts = data["counts"]["by_light"]
        self.console.print("  milestones: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if len(self.gates_printed) < 3:
            print_board(data, self.console)
        self.gates_printed.append(day.isoformat())

    # -- the run ------------------------------------------------------------------------------------------------
    def run(self) -> dict:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from stages.services import find_run
        from stages.sweep import report_day

        t0 = time.perf_counter()
        self.setup()
        days = (self.until - START).days + 1
        complete_on = None
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[day]}"),
                      TimeElapsedColumn(), console=self.console, transient=True) as bar:
            task = bar.add_task("simulating", total=days, day="")
            for n in range(days):
                day = START + dt.timedelta(days=n)
                if self.workday(day):
                    self.sweep(day)
                    if day == report_day(self.cal, day.year, day.month):  # the schedule's run that files it
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
                    self.sign_drafts(day)
                bar.update(task, advance=1, day=str(day))
                with Session(self.engine) as s:
                    if find_run(s, self.spec.id).status == "complete":
                        complete_on = day
                        break
        sim_seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        outputs = self.export(complete_on or self.until)
        return {"complete_on": complete_on, "sim_seconds": sim_seconds, "export_seconds": time.perf_counter() - t1,
                "outputs": outputs}

    def export(self, day: dt.date) -> dict:
        from app.exports import write_calendar, write_ledger
        from stages.board import board
        from stages.models import Notice
        from stages.notices import render_notice
        from stages.views import ledger_rows

        # Written beside the final names and moved into place at the end, so an interrupted export never leaves a
        # partial notices/ folder that looks complete: `notices.partial/` (and its INCOMPLETE marker) is what a
        # killed export leaves, and the next run removes it and writes everything again.
        notices_dir = self.out / "notices"
        partial = self.out / "notices.partial"
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        (partial / "INCOMPLETE").write_text("export interrupted; run the demo again to finish it\n", encoding="utf-8")
        with Session(self.engine) as s:
            ids = s.exec(select(Notice.id).where(Notice.status == "issued").order_by(Notice.id)).all()
            for nid in ids:
                for fmt in ("docx", "md"):
                    n, data = render_notice(s, nid, fmt)
                    name = f"{n.id:05d}-{n.kind}-{(n.doc_number or '公告').replace('〔', '(').replace('〕', ')')}.{fmt}"
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
        from stages.models import Item, Milestone, Notice, Reminder, Submission

        with Session(self.engine) as s:
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
            open_left = s.exec(select(func.count()).select_from(Milestone).where(
                Milestone.status.in_(["pending", "open", "submitted", "returned"]))).one()
        return {"users": self.users, "items": dict(items), "special_plans_rejected": rejected, "notices_by_kind": dict(by_kind),
                "documents_by_genre": dict(by_genre), "numbered_documents": numbered, "drafts_unsigned": drafts_left,
                "reminders": dict(rungs), "items_with_late_submissions": late, "milestones_returned": returned,
                "milestones_unfinished": open_left, "flow_runs": self.flow_runs,
                "flow_seconds": round(self.flow_seconds, 1), "by_flow": {k: round(v, 1) for k, v in self.timings.items()},
                **{k: (round(v, 1) if isinstance(v, float) else v) for k, v in result.items() if k != "outputs"},
                **result["outputs"]}


DEMO_PASSWORD = "demo-2019-plancycle"


def create_demo_users(engine, spec) -> dict:
    """Accounts for trying the console on the demo database: one liaison per department (username = the
    department's id, e.g. ``hqb`` for 区虹桥办), the planning office ``coord``, a leader ``leader`` and ``admin``;
    all with the printed demo password. Never used outside the demo."""
    from stages.users import add_user

    made = {"coordinator": "coord", "leader": "leader", "admin": "admin", "departments": 0,
            "password": DEMO_PASSWORD}
    with Session(engine) as s:
        add_user(s, spec.departments, username="coord", role="coordinator", password=DEMO_PASSWORD,
                 name=f"{spec.coordinator.short}规划科")
        add_user(s, spec.departments, username="leader", role="leader", password=DEMO_PASSWORD, name="分管领导")
        add_user(s, spec.departments, username="admin", role="admin", password=DEMO_PASSWORD, name="系统管理员")
        for d in spec.departments:
            if d.short == spec.coordinator.short or d.kind == "external":
                continue
            add_user(s, spec.departments, username=d.id, role="department", password=DEMO_PASSWORD,
                     name=f"{d.short}联络员", dept=d.short)
            made["departments"] += 1
        s.commit()
    return made


def run_demo(out: Path, seed: int, db_url: str | None = None, console=None, until: dt.date = END) -> dict:
    import os

    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from rich.console import Console

    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    demo = Demo(out, seed, db_url, console, until)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        result = demo.run()
    return demo.summary(result)
