"""``plancycle demo``: a whole planning cycle on a simulated clock, from its first day to its last.

Any valid cycle file (``--config``; Changning's 14th FYP, 2019-06 … 2021-06, by default): a fresh database, and
every action (submissions, reviews, contractors, proposals, approvals, meetings, extensions, stage advances) and
every working day's sweep run through their real Prefect flows, with ``as_of`` set to the simulated moment.

What the simulated people do is derived from the file, never from ids known in advance:

* every open milestone is handed in by the unit that owes it — most on time, some late (and chased by the sweep),
  a few returned once and handed in again; in the last stage, and in a one-stage cycle's last month, everyone is
  punctual (the 区政府's own deadlines; the year's close). A milestone with targets is handed in with its actual
  figures (most reached, some short, some beyond), a periodic report with its three parts (进展, 问题, 下步)
  and the year-to-date figures of its unit's targets, a yearly report with its unit's indicator values;
* an optional milestone is never triggered: it stays dormant, and the summary counts it;
* a submitted deliverable is reviewed within 1–3 working days; the approvals its ``accept_requires`` gate waits for
  are recorded first, and so are the approvals any gate that would open or complete work, or close a stage,
  still lacks once everything else in it is met;
* a topic milestone with ``role: contractor_choice`` gets its 承接单位 recorded; a milestone with ``meeting:`` gets
  one review meeting per round for every topic still to hold it;
* where the cycle has special plans, departments propose them inside the window of the lifecycle's first
  milestone (titles made from the department's name, the district and the period), and the coordinator decides
  them (``role: registration``: confirms most, rejects a few with a reason) halfway to that milestone's deadline;
* a stage is left when its exit gate is met (at once when the gate is automatic, the next working day otherwise);
  a stage without an exit gate, the working day after all its milestones are settled.
  A gate marked ``may_force: true`` is forced instead: the last milestone it names slips past the stage's end
  and the coordinator forces the gate three working days after it, with the reason recorded and printed. A gate
  without the flag is never forced: the demo waits for it;
* once, early in the second stage, the coordinator extends the next five months' deadlines by 30 days (in a
  cycle spanning February 2020: the epidemic's extension of every 2020 H1 deadline).

The run ends when the cycle is complete and no milestone is unfinished (or at ``--until``). Same seed, same result.

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

from stages.ground.errors import PlancycleError

END = None  # the default end: the cycle's last day (kept for callers that pass ``until=END``)
GRACE_DAYS = 120  # days past the cycle's last day the demo goes on for work still unfinished
LATE_SLIP_DAYS = 14  # how far past its stage's end the milestone a forced gate waits for slips
FORCE_AFTER_WORKDAYS = 3  # a may_force gate is forced this many working days after its stage's end
MAX_PROPOSALS = 20

RETURN_COMMENTS = ["研究框架需进一步聚焦，请补充数据支撑", "目标指标测算依据不足，请补充", "与市级相关规划衔接不够，请修改完善",
                   "成果格式不符合要求，请按模板修改", "重点任务表述需细化，明确时间表和路线图"]
NOTES = ["按要求报送", "按要求报送", "按要求报送", "已征求相关部门意见并修改完善",
         "部分数据待统计年报发布后更新，下步将补充完善", "已召开专题会研究，下步按节点推进",
         "与市级主管部门对接中，个别内容待进一步衔接"]
INSTITUTES = ["上海社会科学院", "复旦大学", "上海交通大学", "同济大学", "华东师范大学", "上海财经大学",
              "上海市发展改革研究院", "中国（上海）自由贸易试验区研究院"]
# events of history the demo replays when a cycle spans them: (day, due from, due to, days, reason)
HISTORY = [(dt.date(2020, 2, 10), dt.date(2020, 1, 1), dt.date(2020, 6, 30), 30, "新冠肺炎疫情影响，2020年上半年各节点顺延30天")]
# what a unit's periodic report says (进展 / 存在问题 / 下步安排)
PROGRESS = ["各项工作按计划推进，阶段性目标基本完成", "重点项目有序推进，主要指标符合序时进度",
            "已召开专题推进会，明确责任分工和时间节点", "年度目标分解到季度，逐项落实"]
PROBLEMS = ["无", "个别项目受外部因素影响进度偏慢", "部分数据需待统计部门发布后核实", "跨部门协调事项仍需推进"]
NEXT_STEPS = ["按计划推进，确保完成下阶段目标", "加强跟踪调度，及时协调解决问题", "对进度滞后事项开展专项督办",
              "做好数据核实和成果总结"]
_SUFFIXES = ("委员会", "管理局", "办公室", "中心", "分局", "局", "委", "办")


def demo_fill(spec) -> dict:
    """What the demo's planning office fills in before signing (the notice settings leave them as placeholders for
    a real office to fill): fictitious, for the simulation only."""
    from stages.paperwork.notices import load_config

    coord = spec.coordinator
    place = str((load_config(spec.notices_path).get("meetings") or {}).get("place") or "")
    if not place or "请填写" in place or "XXX" in place:  # the settings' room, where the office has filled it in
        place = f"{coord.short}第一会议室"
    return {"contact_person": "陈明（规划科）", "contact_phone": "021-00000000", "contact_email": f"ghk@{coord.id}.example.cn",
            "contact_address": f"{spec.file.district}某路100号（演示地址）", "signer": "李伟", "place": place}


def plan_field(spec, dept) -> str:
    """A department's field, for a proposed plan's title: its full name less the district and the unit's kind
    (上海市某区商务委员会 → 商务)."""
    name = dept.name
    district = spec.file.district
    if district and district in name:
        name = name[name.index(district) + len(district):]
    else:
        name = dept.short[1:] if dept.short.startswith("区") else dept.short
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def proposals_for(spec, rng: random.Random) -> list[tuple[str, str]]:
    """(department, title) of the special plans the demo's departments propose: one per department (not the
    coordinator, not a street or a body), at most MAX_PROPOSALS, in the seeded order."""
    period = spec.period
    quoted = f"“{period}”" if period and not period.endswith("年度") else period
    units = [d for d in spec.departments if d.kind == "department" and d.short != spec.coordinator.short
             and not any(w in plan_field(spec, d) for w in ("政府", "研究室", "组织", "政法", "办公"))
             and not plan_field(spec, d).startswith("委")]
    rng.shuffle(units)
    out = []
    for d in units[:MAX_PROPOSALS]:
        out.append((d.short, f"{spec.file.district}{plan_field(spec, d)}发展{quoted}规划"))
    return out


class Demo:
    def __init__(self, out: Path, seed: int, db_url: str | None, console, until: dt.date | None = END,
                 config: str | os.PathLike | None = None):
        from stages.ground.paths import DEFAULT_CYCLE as DEFAULT_CONFIG

        self.out = out
        self.config = Path(config) if config else DEFAULT_CONFIG
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

    def script_special_plans(self):
        """Proposals inside the window of the lifecycle's first milestone; 立项确认 halfway to its deadline."""
        spec = self.spec
        lc = spec.lifecycles.get("special_plan")
        if lc is None:
            return
        first = lc.milestones[0]
        lo = max(self.start + dt.timedelta(days=10), first.start_date or self.start)
        hi = first.due_date - dt.timedelta(days=5)
        if hi < lo:
            lo, hi = self.start, max(self.start, first.due_date)
        days = [d for d in (lo + dt.timedelta(n) for n in range((hi - lo).days + 1)) if self.workday(d)] or \
            [self.cal.next_workday(lo, include_self=True)]
        wanted = proposals_for(spec, self.rng)
        if not wanted:
            return
        picks = sorted(self.rng.choice(days) for _ in wanted) if len(days) < len(wanted) \
            else sorted(self.rng.sample(days, len(wanted)))
        for (dept, title), day in zip(wanted, picks):
            self.later(day, 5, self.propose, dept, title)
        self.last_proposal = picks[-1]
        reg = spec.role_milestone("special_plan", "registration")
        if reg is not None:
            mid = picks[-1] + (reg.due_date - picks[-1]) / 2
            day = self.cal.next_workday(max(mid, self.add_wd(picks[-1], 5)), include_self=True)
            self.later(day, 6, self.register)

    def script_extension(self):
        for day, due_from, due_to, days, reason in HISTORY:
            if self.start <= day <= self.end:
                self.later(day, 5, self.extend, due_from, due_to, days, reason)
                return
        if len(self.spec.stages) < 3:
            return
        st = self.spec.stages[1]
        if (st.end_date - st.start_date).days < 240:
            return
        day = self.cal.next_workday(st.start_date + dt.timedelta(days=40), include_self=True)
        due_to = st.start_date + dt.timedelta(days=180)
        self.later(day, 5, self.extend, day, due_to, 30, "受突发情况影响，近期各节点统一顺延30天")

    def script_slips(self):
        """For each stage exit gate the file lets the office force: the last milestone it names slips past the
        stage's end, and the gate is forced a few working days after it."""
        from stages.rules.gates import predicates

        spec = self.spec
        for st in spec.stages[:-1]:
            if not st.exit_gate or not spec.gate(st.exit_gate).may_force:
                continue
            named = []
            for p in predicates(spec.gate(st.exit_gate)):
                if p.milestone:
                    key, _, mid = p.milestone.partition(":")
                    ms = spec.item(key).milestone(mid)
                    if not ms.completes_when and st.start_date <= ms.due_date <= st.end_date:
                        named.append((ms.due_date, key, mid))
            if named:
                _due, key, mid = max(named)
                self.slips[(key, mid)] = self.cal.next_workday(st.end_date + dt.timedelta(days=LATE_SLIP_DAYS))

    # -- actions (each one flow run) ------------------------------------------------------------------------------
    def req(self, cls, day, hour=10, **kw):
        """A request made by the demo's signed-in people: a department's liaison for what the department does
        (submitting, proposing), the planning office's coordinator for everything else."""
        from stages.rules.identity import Actor

        dept = kw.get("dept") if cls.__name__ == "ProposeRequest" else kw.get("by")
        coord = self.spec.coordinator
        if dept and self.spec.department(dept).short != coord.short:
            d = self.spec.department(dept)
            actor = Actor(user=d.id, name=f"{d.short}联络员", role="department", dept=d.short)
        else:
            actor = Actor(user="coord", name=f"{coord.short}规划科", role="coordinator", dept=coord.short)
        return cls(db=self.db_url, as_of=self.at(day, hour), actor=actor, **kw)

    def milestone(self, s, item, ms):
        from stages.store.models import Milestone

        return s.exec(select(Milestone).where(Milestone.item_key == item, Milestone.ms_id == ms)).one()

    def submit(self, day, item, ms, owner, note=None):
        from flows.actions import SubmitRequest, submit_deliverable
        from stages.store.models import Item
        from stages.engine import ms_spec

        with self.session() as s:
            if self.milestone(s, item, ms).status not in ("open", "returned"):
                return
            kind = s.exec(select(Item.kind).where(Item.key == item)).one()
        mspec = ms_spec(self.spec, kind, item, ms)
        figures, report = self.figures_for(item, mspec, owner), None
        if mspec.period:  # a periodic report: its three parts
            report = {"progress": self.rng.choice(PROGRESS), "problems": self.rng.choice(PROBLEMS),
                      "next": self.rng.choice(NEXT_STEPS)}
        self.call(submit_deliverable, self.req(SubmitRequest, day, item=item, milestone=ms, by=owner,
                                               note=note or self.rng.choice(NOTES), figures=figures, report=report))

    def figures_for(self, item: str, mspec, owner: str) -> list[dict]:
        """The figures a unit reports with a milestone: its targets' actuals (most reached, some short, some
        beyond); in a yearly report, its indicators' values near their path; in a monthly or quarterly report,
        the year-to-date figure of each target of its tasks falling due in that quarter."""
        rng, out = self.rng, []

        def actual(value: float) -> float:
            r = rng.random()
            factor = 1.0 if r < 0.45 else (rng.uniform(0.85, 0.99) if r < 0.7 else rng.uniform(1.01, 1.15))
            return round(value * factor, 2)

        for t in mspec.targets:
            out.append({"of": t.of or "", "value": actual(t.value), "unit": t.unit or None})
        if not mspec.period:
            return out
        short = self.spec.department(owner).short
        if mspec.period.isdigit():  # a year: the indicators this unit reports
            from stages.engine.indicators import expected_value

            year = int(mspec.period)
            for ind in self.spec.file.indicators:
                if short not in {self.spec.department(d).short for d in ind.lead}:
                    continue
                value = expected_value(ind, year)  # on the indicator's path, give or take 3%
                if value is None:
                    continue
                out.append({"of": ind.id, "value": round(value * rng.uniform(0.97, 1.03), 2),
                            "unit": ind.unit or None, "source": ind.source})
            return out
        from stages.views.board import period_end

        end = period_end(mspec.period)  # a month's or a quarter's report
        month = end.month
        quarter_end = dt.date(end.year, (month + 2) // 3 * 3, 1)
        for it in self.spec.items:
            if it.kind != "task" or short not in it.lead or it.key == item:
                continue
            for m in it.milestones:
                if m.targets and (m.due_date.year, m.due_date.month) == (quarter_end.year, quarter_end.month):
                    for t in m.targets:
                        if t.of:
                            part = (month - (month - 1) // 3 * 3) / 3 if t.cumulative else 1
                            out.append({"of": f"{it.key}:{t.of}", "value": actual(t.value * max(part, 1 / 3)),
                                        "unit": t.unit or None})
        return out[:50]

    def review(self, day, item, ms):
        from flows.actions import ReviewRequest, review_deliverable
        from stages.store.models import Item
        from stages.engine import ms_spec

        with self.session() as s:
            m = self.milestone(s, item, ms)
            if m.status != "submitted":
                return
            kind = s.exec(select(Item.kind).where(Item.key == item)).one()
            returns, owner = m.returns, m.owner
        if (item, ms) in self.to_return and returns == 0:
            self.call(review_deliverable, self.req(ReviewRequest, day, 15, item=item, milestone=ms, decision="return",
                                                   comments=self.rng.choice(RETURN_COMMENTS)))
            self.later(self.add_wd(day, self.rng.randint(3, 8)), 3, self.submit, item, ms, owner, "修改稿")
            return
        gate = ms_spec(self.spec, kind, item, ms).accept_requires
        if gate and not self.obtain(day, gate):  # what else it waits for is not there yet: look again later
            self.later(self.add_wd(day, 3), 4, self.review, item, ms)
            return
        self.call(review_deliverable, self.req(ReviewRequest, day, 15, item=item, milestone=ms, decision="accept"))

    def facts(self):
        from stages.engine import facts_for, find_run

        with self.session() as s:
            return facts_for(s, find_run(s, self.spec.id))

    def obtain(self, day, gate: str, facts=None) -> bool:
        """The approvals ``gate`` waits for, recorded when they are all it lacks (领导小组, 区委, 区政府, 区人大
        meet and approve); True when the gate is met."""
        from stages.rules.gates import evaluate, predicates

        spec = self.spec
        facts = facts or self.facts()
        if evaluate(spec, gate, facts).ok:
            return True
        wanted, todo, seen = [], [gate], set()
        while todo:
            gid = todo.pop(0)
            if gid in seen:
                continue
            seen.add(gid)
            for p in predicates(spec.gate(gid)):
                if p.approval and (p.approval.body, p.approval.subject) not in facts.approvals:
                    wanted.append((p.approval.body, p.approval.subject))
                todo.extend(x for x in (p.all_of or ()) + (p.any_of or ()) if isinstance(x, str))
        if not wanted:
            return False
        facts.approvals |= set(wanted)
        if not evaluate(spec, gate, facts).ok:
            return False
        for body, subject in dict.fromkeys(wanted):
            self.approve(day, body, subject, "会议审议通过")
        return True

    def approve(self, day, body, subject, note):
        from flows.actions import ApproveRequest, record_approval

        self.call(record_approval, self.req(ApproveRequest, day, 11, body=body, subject=subject, note=note))

    def propose(self, day, dept, title):
        from flows.actions import ProposeRequest, propose_special_plan

        self.call(propose_special_plan, self.req(ProposeRequest, day, dept=dept, title=title,
                                                 note="结合前期研究提出立项建议"))

    def register(self, day):
        from flows.actions import RegisterRequest, register_special_plans
        from stages.store.models import Item

        reg = self.spec.role_milestone("special_plan", "registration")
        if reg.accept_requires and not self.obtain(day, reg.accept_requires):
            self.later(self.add_wd(day, 3), 6, self.register)
            return
        with self.session() as s:
            keys = sorted(s.exec(select(Item.key).where(Item.kind == "special_plan", Item.status == "active")).all())
        if not keys:
            return
        proposed = keys[len(self.spec.file.special_plans):]  # the file's own list comes first and is kept
        reject = sorted(self.rng.sample(proposed, 3 if len(proposed) >= 6 else 0))
        self.call(register_special_plans, self.req(RegisterRequest, day, 14, confirm=[k for k in keys if k not in reject],
                                                   reject=reject,
                                                   reason="经综合平衡，纳入相关专项规划统筹编制" if reject else None))

    def extend(self, day, due_from, due_to, days, reason):
        from flows.actions import ExtendRequest, extend_deadlines

        try:
            self.call(extend_deadlines, self.req(ExtendRequest, day, due_from=due_from, due_to=due_to, days=days,
                                                 reason=reason))
        except PlancycleError as exc:
            if "no unfinished milestone" not in str(exc):
                raise

    def contractor(self, day, topic):
        from flows.actions import ContractorRequest, assign_contractor

        inst = self.rng.choice(INSTITUTES)
        self.call(assign_contractor, self.req(ContractorRequest, day, topic=topic, contractor=f"{inst}课题组",
                                              contact=f"课题负责人 {self.rng.randint(13000000000, 13999999999)}"))

    def meeting(self, day, ms, when):
        """One meeting per round (开题 / 中期 / 结题评审 …) for every topic still to hold it."""
        from flows.actions import MeetingRequest, schedule_meeting

        if when <= self.at(day, 10):
            return
        self.call(schedule_meeting, self.req(MeetingRequest, day, 10, milestone=ms, at=when, place=self.fill["place"]))

    def sign_drafts(self, day):
        """The planning office signs off the day's drafts (filling what the settings leave blank)."""
        from flows.actions import SignDocumentRequest, sign_document
        from stages.store.models import Notice
        from stages.paperwork.notices import missing

        with self.session() as s:
            drafts = [(n.id, missing(n.data, n.kind)) for n in s.exec(select(Notice).where(Notice.status == "draft")
                                                             .order_by(Notice.id))]
        for nid, gaps in drafts:
            self.call(sign_document, self.req(SignDocumentRequest, day, 17, notice=nid,
                                              changes={g: self.fill[g] for g in gaps if g in self.fill}))

    def advance(self, day, override):
        from flows.actions import AdvanceRequest, advance_stage
        from stages.engine import find_run

        with self.session() as s:
            leaving = find_run(s, self.spec.id).current_stage
        out = self.call(advance_stage, self.req(AdvanceRequest, day, 16, from_stage=leaving, override_reason=override))
        self.advance_scheduled = None
        if override:
            self.forced.append({"day": day.isoformat(), "stage": leaving,
                                "gate": self.spec.stage(leaving).exit_gate, "reason": override})
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
        from stages.store.models import Item, Milestone
        from stages.engine import ms_spec

        with self.session() as s:
            kinds = {k: kind for k, kind in s.exec(select(Item.key, Item.kind))}
            rows = s.exec(select(Milestone).where(Milestone.status.in_(["open", "submitted"]))
                          .order_by(Milestone.item_key, Milestone.seq)).all()
            rows = [(m.item_key, m.ms_id, m.status, m.owner, m.due_date, m.returns) for m in rows]
        for item, ms, status, owner, due, returns in rows:
            kind = kinds[item]
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
            if mspec.completes_when or mspec.role == "registration":
                continue  # the system completes it / 立项确认 follows its own script
            if mspec.role == "contractor_choice":  # after the call for tender's application deadline
                when = self.add_wd(day, self.apply_days + self.rng.randint(1, 4))
                self.later(min(when, max(due, self.add_wd(day, 1))), 2, self.contractor, item)
                continue
            if mspec.meeting is not None and kind == "topic" and ms not in self.meetings:
                self.meetings.add(ms)
                when = self.at(max(self.add_wd(due, -3), self.add_wd(day, 6)), 14)
                self.later(self.add_wd(day, 1), 1, self.meeting, ms, when)
            if (item, ms) in self.slips:
                self.later(max(self.slips[(item, ms)], self.add_wd(day, 1)), 3, self.submit, item, ms, owner,
                           "报送（上级安排延期）")
                continue
            r = self.rng.random()
            # the last stage's deadlines are the 区政府's own, and the cycle's final month closes its year:
            # departments are punctual there
            last = mspec.stage == self.last_stage and (len(self.spec.stages) > 1
                                                       or due > self.end - dt.timedelta(days=31))
            if last:
                r = 0.0
            first = self.add_wd(day, 1)
            if r < 0.72 or due < first:  # on time (or as soon as it opens, if it opened late)
                hi = due - dt.timedelta(days=4) if last else due  # room for the review
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

    def unblock(self, day):
        """Approvals a gate still lacks when they are all it lacks: the gates that would open or complete
        unfinished work whose own predecessors are done."""
        from stages.store.models import Item, Milestone
        from stages.engine import ms_spec

        with self.session() as s:
            kinds = {k: kind for k, kind in s.exec(select(Item.key, Item.kind).where(Item.status == "active"))}
            rows = s.exec(select(Milestone.item_key, Milestone.ms_id).where(
                Milestone.status.in_(["pending", "open", "submitted", "returned"]))).all()
        gates = []
        for item, ms in rows:
            if item not in kinds:
                continue
            mspec = ms_spec(self.spec, kinds[item], item, ms)
            gates += [g for g in (mspec.opens_when, mspec.completes_when) if g and g not in gates]
        facts = self.facts() if gates else None
        for g in gates:
            if self.obtain(day, g, facts):
                facts = self.facts()

    def check_gate(self, day):
        from stages.rules.gates import evaluate
        from stages.engine import facts_for, find_run

        if self.advance_scheduled:
            return
        with self.session() as s:
            run = find_run(s, self.spec.id)
            if run.status != "active":
                return
            st = self.spec.stage(run.current_stage)
            if st.exit_gate:
                ok = evaluate(self.spec, st.exit_gate, facts_for(s, run)).ok
            else:  # no gate: the office closes the stage once all its work is settled
                from stages.store.models import Milestone

                ok = s.exec(select(func.count()).select_from(Milestone).where(
                    Milestone.run_id == run.id, Milestone.stage == st.id,
                    Milestone.status.in_(["pending", "open", "submitted", "returned"]))).one() == 0
        gate = self.spec.gate(st.exit_gate) if st.exit_gate else None
        if gate is not None and gate.automatic:
            return  # the system advances it inside the step that meets it
        if gate is not None and not ok and self.obtain(day, gate.id):
            ok = True
        if ok:
            self.advance_scheduled = st.id
            self.later(self.add_wd(day, 1), 9, self.advance, None)
        elif gate is not None and gate.may_force and day >= self.add_wd(st.end_date, FORCE_AFTER_WORKDAYS):
            self.advance_scheduled = st.id
            self.later(day, 9, self.advance, f"{st.name}阶段窗口已过，按进度要求先行启动下一阶段工作；"
                                             f"未完成事项继续办理，不影响后续工作（阶段门 {gate.name} 允许推进）")

    def print_gate(self, day, stages, override):
        from app.render import print_board
        from stages.views.board import board

        with self.session() as s:
            data = board(s, self.spec, self.at(day, 17))
        self.console.print(f"\n[bold]{day}: stage {', '.join(stages)}[/bold]"
                           + (f"  [red](gate forced: {override})[/red]" if override else ""))
        counts = data["counts"]["by_light"]
        self.console.print("  milestones: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if len(self.gates_printed) < 3:
            print_board(data, self.console)
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


DEMO_PASSWORD = "demo-2019-plancycle"


def create_demo_users(engine, spec) -> dict:
    """Accounts for trying the console on the demo database: one liaison per department (username = the
    department's id in the departments file), the planning office ``coord``, a leader ``leader`` and ``admin``;
    all with the printed demo password. Never used outside the demo."""
    from stages.store import users

    add_user = users.add_user
    made = {"coordinator": "coord", "leader": "leader", "admin": "admin", "departments": 0,
            "password": DEMO_PASSWORD}
    # one argon2 hash for the one demo password (0.5 s each: fifty departments took half the demo's time)
    hashed = users.hash_password(DEMO_PASSWORD)
    original = users.hash_password
    users.hash_password = lambda pw: hashed if pw == DEMO_PASSWORD else original(pw)
    try:
        _add_demo_users(engine, spec, add_user, made)
    finally:
        users.hash_password = original
    return made


def _add_demo_users(engine, spec, add_user, made) -> None:
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


def run_demo(out: Path, seed: int, db_url: str | None = None, console=None, until: dt.date | None = END,
             config: str | os.PathLike | None = None) -> dict:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from rich.console import Console

    console = console or Console()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    demo = Demo(out, seed, db_url, console, until, config)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        result = demo.run()
    return demo.summary(result)
