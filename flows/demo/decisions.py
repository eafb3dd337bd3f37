"""What the simulated people decide: the script set up at the start (proposals and 立项确认, the extension history
calls for, the milestones a forceable gate waits for), and each day's choices (when to hand in, when to review,
which approvals to obtain, when to leave a stage)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import func, select

from flows.demo.script import FORCE_AFTER_WORKDAYS, HISTORY, LATE_SLIP_DAYS, proposals_for


class Decisions:
    """Mixed into :class:`flows.demo.driver.Demo`, which provides the clock, the session and the moves."""

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
