"""The simulated people's moves, each one flow run (``flows.actions``, ``flows.schedules``) with ``as_of`` the simulated
moment: a department's liaison for what a department does, the planning office's coordinator for the rest."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from flows.demo.script import INSTITUTES, NEXT_STEPS, NOTES, PROBLEMS, PROGRESS, RETURN_COMMENTS
from stages.ground.errors import PlancycleError


class Moves:
    """Mixed into :class:`flows.demo.driver.Demo`, which provides the clock, the session and ``call``."""

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
