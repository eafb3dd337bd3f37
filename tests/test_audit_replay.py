"""Every state change has its audit event (issue 9): the audit log of the full two-year demo, replayed from an
empty run, arrives at exactly the milestones' states and due dates, the items' and the stages' states and the
run's status in the database.

The replay knows only what each audit action means (:data:`MILESTONE_MOVES` and :func:`replay`), checked by the
status machine (``stages.rules.status.transition``): an event that would be an illegal move from the replayed state
fails, and so does an action it does not know, so a new kind of event has to be given its meaning here. The spec
(the run's cycle file, whose checksum ``cycle.created`` records) says which items and milestones a creation makes
and with what due dates; everything after that comes from the log.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlmodel import Session, select

from stages import engine as sv
from stages.store.models import AuditEvent, CycleRun, Item, Milestone, StageState, make_engine
from stages.rules.status import DONE, Status, transition

COORD = "区发改委"

# audit action on "ITEM:MILESTONE" → the status machine's event
MILESTONE_MOVES = {"milestone.opened": "open", "deliverable.submitted": "submit", "deliverable.accepted": "accept",
                   "deliverable.returned": "return", "milestone.completed": "complete", "milestone.waived": "waive"}
# actions that change no milestone, item, stage or run state (a decision recorded, a notice, a sweep's reminders …)
NO_STATE = {"sweep.ran", "report.monthly", "meeting.scheduled", "meeting.changed", "approval.recorded",
            "gate.overridden", "gate.ready", "stage.advance.requested", "special_plans.decided", "record.corrected",
            "milestone.open.override", "notice.edited", "notice.signed", "user.added", "user.disabled",
            "user.enabled", "user.password_set", "user.contact_set"}


class Replayed:
    def __init__(self):
        self.milestones: dict[tuple[str, str], Status] = {}
        self.due: dict[tuple[str, str], dt.date] = {}
        self.items: dict[str, str] = {}
        self.stages: dict[str, str] = {}
        self.run_status: str | None = None
        self.unknown: list[str] = []

    def create(self, key: str, milestones) -> None:
        self.items[key] = "active"
        for m in milestones:
            self.milestones[(key, m.id)] = Status.PENDING
            self.due[(key, m.id)] = m.due_date

    def move(self, key: tuple[str, str], event: str, why: str) -> None:
        assert key in self.milestones, f"{why}: {key[0]}:{key[1]} was never created"
        self.milestones[key] = transition(self.milestones[key], event, f"{key[0]}:{key[1]} ({why})")


def replay(events, spec) -> Replayed:
    """The run's state, from nothing but its audit events (in the order they were written) and its spec."""
    r = Replayed()
    lifecycle = spec.lifecycles["special_plan"].milestones
    for e in events:
        a, target = e.action, e.target
        if a in MILESTONE_MOVES:
            item, _, ms = target.partition(":")
            r.move((item, ms), MILESTONE_MOVES[a], f"{a} #{e.id}")
        elif a == "cycle.created":  # the spec's items and milestones, pending; its first stage open
            for it in spec.items:
                r.create(it.key, it.milestones)
            r.stages = {s.id: "open" if i == 0 else "pending" for i, s in enumerate(spec.stages)}
            r.run_status = "active"
        elif a == "special_plan.proposed":  # a new 专项规划: its lifecycle, and the proposal itself handed in
            r.create(target, lifecycle)
            r.move((target, lifecycle[0].id), "open", f"{a} #{e.id}")
            r.move((target, lifecycle[0].id), "submit", f"{a} #{e.id}")
        elif a == "special_plan.registered":  # 立项确认 of this plan: its registration milestone done
            r.move((target, "registration"), "complete", f"{a} #{e.id}")
        elif a == "special_plan.rejected":  # not confirmed: the plan leaves its track, nothing more is owed
            r.items[target] = "rejected"
            for key, status in list(r.milestones.items()):
                if key[0] == target and status not in DONE:
                    r.move(key, "waive", f"{a} #{e.id}")
        elif a == "contractor.assigned":  # a tendered topic's 确定承接单位 is done by recording the contractor
            if (target, "contractor") in r.milestones:
                r.move((target, "contractor"), "complete", f"{a} #{e.id}")
        elif a == "stage.advanced":
            left, _, entered = target.partition("→")
            r.stages[left] = "closed"
            if entered == "complete":
                r.run_status = "complete"
            else:
                r.stages[entered] = "open"
        elif a == "deadline.extended":
            for moved in e.data.get("moved", []):
                item, _, ms = moved["milestone"].partition(":")
                assert r.due[(item, ms)].isoformat() == moved["from"], f"#{e.id} moves {moved} from another date"
                r.due[(item, ms)] = dt.date.fromisoformat(moved["to"])
        elif a not in NO_STATE:
            r.unknown.append(a)
    return r


def differences(session: Session, spec) -> list[str]:
    """What the replay of the run's audit log gets wrong about the database, one line each (none: it matches)."""
    run = session.exec(select(CycleRun).where(CycleRun.spec_id == spec.id)).one()
    events = session.exec(select(AuditEvent).where(AuditEvent.run_id == run.id).order_by(AuditEvent.id)).all()
    r = replay(events, spec)
    out = [f"action {a} has no meaning in the replay: say what it changes (or add it to NO_STATE)"
           for a in sorted(set(r.unknown))]
    have = {(m.item_key, m.ms_id): m for m in session.exec(select(Milestone).where(Milestone.run_id == run.id))}
    for key in sorted(set(have) | set(r.milestones)):
        name = f"{key[0]}:{key[1]}"
        if key not in have or key not in r.milestones:
            out.append(f"{name}: {'in the database' if key in have else 'replayed'} only")
            continue
        m = have[key]
        if m.status != r.milestones[key].value:
            out.append(f"{name}: the log leaves it {r.milestones[key].value}, the database has {m.status}")
        if m.due_date != r.due[key]:
            out.append(f"{name}: the log leaves it due {r.due[key]}, the database has {m.due_date}")
    items = {i.key: i.status for i in session.exec(select(Item).where(Item.run_id == run.id))}
    if items != r.items:
        out += [f"item {k}: the log says {r.items.get(k)}, the database has {items.get(k)}"
                for k in sorted(set(items) | set(r.items)) if items.get(k) != r.items.get(k)]
    stages = {s.stage_id: s.status for s in session.exec(select(StageState).where(StageState.run_id == run.id))}
    if stages != r.stages:
        out.append(f"stages: the log says {r.stages}, the database has {stages}")
    if run.status != r.run_status:
        out.append(f"run: the log says {r.run_status}, the database has {run.status}")
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The whole two-year demo (flows/demo/, seed 2019), each step's flow function called in this process (as
    `plancycle` does without a Prefect server) rather than as a Prefect flow run, and without the export of its
    documents: the same moves through the same code, in a fraction of the time."""
    from rich.console import Console

    from flows.demo import END, InProcessDemo as InProcess

    out = tmp_path_factory.mktemp("demo")
    d = InProcess(out, 2019, None, Console(file=io.StringIO(), width=120), END)
    with pytest.MonkeyPatch.context() as mp:
        # flows.schedules emits Prefect events even when called outside a flow run, which starts Prefect's
        # embedded server; there is no flow run here, and events are not what this test is about
        mp.setattr("flows.schedules.emit_events", lambda *_a, **_k: 0)
        result = d.run()
    engine = make_engine(d.db_url, write=False)
    yield d.spec, engine, result
    engine.dispose()


@pytest.mark.slow  # the whole two-year demo (once for the module)
def test_the_demo_ran_its_course(demo):
    spec, engine, result = demo
    assert result["complete_on"] is not None, "the demo's cycle did not complete"
    with Session(engine) as s:
        statuses = {m.status for m in s.exec(select(Milestone))}
        actions = {e.action for e in s.exec(select(AuditEvent))}
    assert statuses <= {"accepted", "waived"}
    # the replay below is worth something only if the log has every kind of move in it
    assert {"deliverable.returned", "special_plan.rejected", "deadline.extended", "contractor.assigned",
            "milestone.completed", "stage.advanced", "special_plan.registered"} <= actions


@pytest.mark.slow  # the whole two-year demo (once for the module)
def test_the_audit_log_replays_to_the_database(demo):
    spec, engine, _result = demo
    with Session(engine) as s:
        diff = differences(s, spec)
    assert diff == [], "\n".join(diff[:40])


def test_the_audit_log_replays_halfway(tmp_path, changning):
    """The same on a run stopped mid-way, with work open, submitted and returned (nothing is done by default)."""
    engine = _small_run(tmp_path, changning, review_proposals=True)
    with Session(engine) as s:
        assert differences(s, changning) == []
        assert {m.status for m in s.exec(select(Milestone))} >= {"open", "submitted", "returned", "accepted",
                                                                  "pending", "waived"}


def test_registration_leaves_no_milestone_change_unlogged(tmp_path, changning):
    """立项确认 of proposals nobody reviewed first: the proposals are accepted by it."""
    engine = _small_run(tmp_path, changning, review_proposals=False)
    with Session(engine) as s:
        diff = differences(s, changning)
    assert diff == [], "\n".join(diff)


def _small_run(tmp_path, spec, *, review_proposals: bool):
    from stages.store.models import create_schema

    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    create_schema(engine)
    with Session(engine) as s:
        sv.init_run(s, spec, as_of="2019-06-01")
        s.commit()
        open_ = s.exec(select(Milestone).where(Milestone.status == "open", Milestone.owner != COORD)
                       .order_by(Milestone.due_date, Milestone.id)).all()
        work = [(m.item_key, m.ms_id, m.owner) for m in open_][:5]
        for k, (item, ms, owner) in enumerate(work):
            sv.submit(s, spec, item=item, milestone=ms, by=owner, as_of="2019-06-05")
            if k < 4:
                sv.review(s, spec, item=item, milestone=ms, decision="return" if k == 0 else "accept", by=COORD,
                          as_of="2019-06-06", comments="请补充" if k == 0 else None)
        topic = s.exec(select(Milestone.item_key).where(Milestone.ms_id == "contractor",
                                                        Milestone.status == "open")).first()
        if topic:
            sv.assign_contractor(s, spec, topic=topic, contractor="复旦大学课题组", contact="课题负责人 13000000000",
                                 by=COORD, as_of="2019-06-20")
        for dept, title in (("区商务委", "长宁区商务发展“十四五”规划"), ("区教育局", "长宁区教育改革和发展“十四五”规划")):
            out = sv.propose(s, spec, dept=dept, title=title, as_of="2019-08-15")
            if review_proposals:
                sv.review(s, spec, item=out.target, milestone="proposal", decision="accept", by=COORD,
                          as_of="2019-08-16")
        sv.approve(s, spec, body="leading_group", subject="special-plan-list", by=COORD, as_of="2019-11-12")
        sv.register(s, spec, confirm=["sp-01"], reject=["sp-02"], by=COORD, as_of="2019-11-19",
                    reason="纳入相关专项规划统筹编制")
        sv.extend_deadline(s, spec, by=COORD, reason="疫情影响", as_of="2019-11-20", due_from=dt.date(2020, 1, 1),
                           due_to=dt.date(2020, 6, 30), days=30)
        s.commit()
    return engine
