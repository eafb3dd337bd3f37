"""Resolving a cycle file into its items and lifecycles (``_resolve``): stage windows, the items of every
track (topics, tasks, a task split per lead unit, the reporting rhythm, the outline, the special-plan template),
each milestone's owner, stage, gates and dependencies, the roles milestones play, the timeline rows and the
funding tranches; what schema 2 added is refused under schema 1. Dates are ``stages.definition.dates``', the gates
and the dependency graph ``stages.definition.graph``'s.
"""

from __future__ import annotations

import datetime as dt
import re

from stages.definition.checker import ROLE_OWNERS, _Checker, _dotted, _key_prefix, _phrase_length, _ref
from stages.definition.dates import _resolve_dates
from stages.definition.graph import _check_cycles, _check_gates, gate_milestone_refs
from stages.definition.phrases import Period, parse_period
from stages.definition.spec import KIND_OF_TRACK, ROLES, ItemSpec, LifecycleSpec, MilestoneSpec
from stages.ground.errors import DeadlinePhraseError
from stages.ground.i18n import Msg

SCHEMA_2 = Msg("config.expect_schema_2")

def _resolve(ck: _Checker) -> tuple[list[ItemSpec], dict[str, LifecycleSpec]]:
    cf = ck.cf
    ck.dept(cf.coordinator, "coordinator")

    # stage windows
    windows: dict[str, Period] = {}
    stages = []
    for i, st in enumerate(cf.stages):
        if (st.window is None) == (st.start is None and st.end is None) or (st.start is None) != (st.end is None):
            ck.fail("config.stage_window_or_dates", "stages", i, expected=Msg("config.expect_stage_window"))
        if st.window is None:
            if st.start > st.end:
                ck.fail("config.stage_starts_after_end", "stages", i, "end", stage=st.id, start=st.start, end=st.end)
            per = Period(st.start, st.end)
        else:
            _phrase_length(ck, st.window, "stages", i, "window")
            try:
                per = parse_period(st.window)
            except DeadlinePhraseError as exc:
                ck.fail(exc.msg or str(exc), "stages", i, "window", expected=Msg("config.expect_period"))
        windows[st.id] = per
        if st.exit_gate:
            ck.gate(st.exit_gate, "stages", i, "exit_gate")
        stages.append(st.model_copy(update={"start_date": per.start, "end_date": per.end}))
    for a, b in zip(stages, stages[1:]):
        if b.start_date <= a.end_date:
            ck.fail("config.stages_overlap", "stages", stages.index(b), "window",
                    expected=Msg("config.expect_stages_in_order"), stage=b.id, start=b.start_date, previous=a.id,
                    end=a.end_date)
    ck.stages = tuple(stages)

    # required lifecycles: topics need the topic lifecycle; the special-plan track is there when its lifecycle is
    if cf.topics and "topic" not in cf.lifecycles:
        ck.fail("config.no_topic_lifecycle", "lifecycles", expected="lifecycles.topic")
    if cf.outline:
        ck.lifecycle(cf.outline.lifecycle, "outline", "lifecycle")
    for name, lc in cf.lifecycles.items():
        ck.stage(lc.stage, "lifecycles", name, "stage")

    # raw items: (key, kind, stage, milestones, yaml path of milestones, fields)
    raw: list[dict] = []
    topic_prefix = _key_prefix(cf, "topic")
    for i, tp in enumerate(cf.topics):
        lead = tuple(ck.dept(d, "topics", i, "lead", j) for j, d in enumerate(tp.lead))
        coop = tuple(ck.dept(d, "topics", i, "cooperating", j, allow_group=True) for j, d in enumerate(tp.cooperating))
        lc = cf.lifecycles["topic"]
        mode = "open_call" if tp.open_call else "direct_commission"
        ref = tp.ref or (lc.ref.replace("{no}", str(tp.no)) if lc.ref else None)
        raw.append(dict(key=f"{topic_prefix}{tp.no:02d}", kind="topic", title=tp.title, stage=lc.stage, lead=lead,
                        cooperating=coop, no=tp.no, focus=tp.focus, open_call=tp.open_call,
                        ref=ref, mode=mode, ms=lc.milestones, ms_path=("lifecycles", "topic", "milestones")))
    _schema_2(ck)
    _check_indicators(ck)
    _check_special_plans(ck)
    for i, task in enumerate(cf.tasks):
        ck.stage(task.stage, "tasks", i, "stage")
        each = task.lead_mode == "each"
        lead = tuple(ck.dept(d, "tasks", i, "lead", j, allow_group=each) for j, d in enumerate(task.lead))
        coop = tuple(ck.dept(d, "tasks", i, "cooperating", j, allow_group=True) for j, d in enumerate(task.cooperating))
        if not each:
            raw.append(dict(key=task.id, kind="task", title=task.title, stage=task.stage, lead=lead, cooperating=coop,
                            ref=task.ref, text=task.text, domain=task.domain, mode=None, ms=task.milestones,
                            ms_path=("tasks", i, "milestones")))
            continue
        # every lead unit (a group: each of its members) owes its own part: one item per unit
        units: list[str] = []
        for u in lead:
            members = [ck.dept_names[x] for x in ck.dfile.groups[u]] if u in ck.dfile.groups else [u]
            units += [x for x in members if x not in units]
        ck.each_tasks[task.id] = []
        by_short = {d.short: d for d in ck.dfile.departments}
        for u in units:
            key = f"{task.id}.{by_short[u].id}"
            ck.each_tasks[task.id].append(key)
            raw.append(dict(key=key, kind="task", title=task.title, stage=task.stage, lead=(u,),
                            cooperating=tuple(x for x in units if x != u) + coop, ref=task.ref, text=task.text,
                            domain=task.domain, mode=None, ms=task.milestones, ms_path=("tasks", i, "milestones"),
                            part_of=task.id))
    if cf.reporting is not None:
        raw.extend(_reporting_items(ck, raw, stages))
    if cf.outline:
        lc = cf.lifecycles[cf.outline.lifecycle]
        lead = tuple(ck.dept(d, "outline", "lead", j) for j, d in enumerate(cf.outline.lead))
        coop = tuple(ck.dept(d, "outline", "cooperating", j, allow_group=True) for j, d in enumerate(cf.outline.cooperating))
        raw.append(dict(key="outline", kind="outline", title=cf.outline.title, stage=lc.stage, lead=lead,
                        cooperating=coop, mode=None, ms=lc.milestones,
                        ms_path=("lifecycles", cf.outline.lifecycle, "milestones")))
    # special plans (when the cycle has the track): a template "item" so that its milestones are checked and dated
    # once
    sp = cf.lifecycles.get("special_plan")
    if sp is not None:
        raw.append(dict(key="special_plans", kind="special_plan", title="(专项规划 template)", stage=sp.stage, lead=(),
                        cooperating=(), mode=None, ms=sp.milestones,
                        ms_path=("lifecycles", "special_plan", "milestones"), template=True))
    _check_item_keys(ck, raw)

    by_key = {r["key"]: r for r in raw}
    track_items = {"topics": [r for r in raw if r["kind"] == "topic"], "tasks": [r for r in raw if r["kind"] == "task"],
                   "outline": [r for r in raw if r["kind"] == "outline"],
                   "special_plans": [by_key["special_plans"]] if sp is not None else []}

    # per item: filter only_for, check owners/stages/gates, resolve deps
    for r in raw:
        kept, deps_of = [], {}
        ids = [m.id for m in r["ms"]]
        names = {m.name: m.id for m in r["ms"]}
        r["names"] = names
        for idx, m in enumerate(r["ms"]):
            p = r["ms_path"] + (idx,)
            if m.owner not in ROLE_OWNERS:
                ck.dept(m.owner, *p, "owner")
            stage = m.stage or r["stage"]
            ck.stage(stage, *p, "stage")
            for attr in ("opens_when", "accept_requires", "completes_when"):
                if getattr(m, attr):
                    ck.gate(getattr(m, attr), *p, attr)
            if m.meeting is not None and r["kind"] != "topic":
                ck.fail("config.meeting_not_topic", *p, "meeting", expected=Msg("config.expect_meeting_topic"),
                        milestone=m.id)
            if m.opens_when and not next(g for g in cf.gates if g.id == m.opens_when).automatic:
                ck.fail("config.opens_when_not_automatic", *p, "opens_when", milestone=m.id, gate=m.opens_when,
                        expected=Msg("config.expect_automatic_gate", gate=m.opens_when))
            if m.after is None:
                deps = (ids[idx - 1],) if idx > 0 else ()
            else:
                deps = []
                for j, ref in enumerate(m.after):
                    deps.append(_ref(ck, r, ref, by_key, p + ("after", j)))
                deps = tuple(deps)
            if m.only_for and r["kind"] != "topic":
                ck.fail("config.only_for_not_topic", *p, "only_for")
            if m.optional and (m.role or m.completes_when or m.opens_when):
                what = "role" if m.role else ("completes_when" if m.completes_when else "opens_when")
                ck.fail("config.optional_with", *p, what, milestone=m.id, key=what,
                        expected=Msg("config.expect_optional_or", key=what))
            if m.condition and not m.optional:
                ck.fail("config.condition_not_optional", *p, "condition", milestone=m.id,
                        expected=Msg("config.expect_optional_condition"))
            deps_of[m.id] = deps
            if m.only_for and r["mode"] and m.only_for != r["mode"]:
                continue  # excluded for this item; dependents inherit its deps below
            kept.append((idx, m, stage))
        excluded = {m.id for m in r["ms"]} - {m.id for _, m, _ in kept}
        expand = _inherited_deps(ck, r, deps_of, excluded)
        r["kept"] = [(idx, m, stage, expand(deps_of[m.id])) for idx, m, stage in kept]

    _check_gates(ck, by_key, track_items)
    _check_cycles(ck, raw, by_key)
    dates = _resolve_dates(ck, raw, by_key, windows)
    roles = _roles(ck, raw)

    items: list[ItemSpec] = []
    lifecycles: dict[str, LifecycleSpec] = {}
    for r in raw:
        ms_out = []
        for idx, m, stage, deps in r["kept"]:
            start, due, time = dates[(r["key"], m.id)]
            ms_out.append(m.model_copy(update={"stage": stage, "deps": deps, "due_date": due, "due_time": time,
                                               "start_date": start, "role": roles.get((r["key"], m.id), m.role)}))
        if r.get("template"):
            lc = cf.lifecycles["special_plan"]
            lifecycles["special_plan"] = lc.model_copy(update={"milestones": tuple(ms_out)})
            continue
        items.append(ItemSpec(key=r["key"], kind=r["kind"], title=r["title"], stage=r["stage"], lead=r["lead"],
                              cooperating=r["cooperating"], milestones=tuple(ms_out), ref=r.get("ref"),
                              no=r.get("no"), focus=r.get("focus"), open_call=r.get("open_call"), text=r.get("text"),
                              domain=r.get("domain"), part_of=r.get("part_of")))
    first_topic = next((r["key"] for r in raw if r["kind"] == "topic"), None)
    for name, lc in cf.lifecycles.items():
        if name == "topic" and first_topic is not None:  # the roles derived for the topics, on their lifecycle too
            lc = lc.model_copy(update={"milestones": tuple(
                m.model_copy(update={"role": roles.get((first_topic, m.id), m.role)}) for m in lc.milestones)})
        lifecycles.setdefault(name, lc)

    # timeline rows: each names items, milestones or tracks that exist, and covers at least one dated milestone
    by_item = {it.key: it for it in items}
    for i, row in enumerate(cf.timeline):
        ck.stage(row.stage, "timeline", i, "stage")
        for j, cov in enumerate(row.covers):
            item_key, _, mid = cov.partition(":")
            if item_key in KIND_OF_TRACK:
                kind = KIND_OF_TRACK[item_key]
                if kind == "special_plan":
                    lc = lifecycles.get("special_plan")
                    pool = [m.id for m in lc.milestones] if lc else []
                else:
                    pool = [m.id for it in items if it.kind == kind for m in it.milestones]
                if not pool:
                    ck.fail("config.timeline_empty_track", "timeline", i, "covers", j, track=item_key,
                            expected=Msg("config.expect_timeline_track"))
            elif item_key in by_item:
                pool = [m.id for m in by_item[item_key].milestones]
            elif item_key in ck.each_tasks:  # a task split per lead unit: its parts
                pool = [m.id for k in ck.each_tasks[item_key] for m in by_item[k].milestones]
            else:
                ck.fail("config.timeline_unknown_item", "timeline", i, "covers", j, cover=cov,
                        expected=Msg("config.expect_timeline_cover"))
            if mid and mid not in pool:
                ck.fail("config.timeline_no_milestone", "timeline", i, "covers", j, cover=cov, item=item_key,
                        milestone=mid, expected=", ".join(dict.fromkeys(pool)))
    # funding
    total = 0.0
    topic_ms = {m.id for m in cf.lifecycles["topic"].milestones} if "topic" in cf.lifecycles else set()
    for i, f in enumerate(cf.funding):
        if f.milestone not in topic_ms:
            ck.fail("config.funding_unknown_milestone", "funding", i, "milestone", milestone=f.milestone,
                    expected=" / ".join(sorted(topic_ms)))
        total += f.share
    if cf.funding and abs(total - 1.0) > 1e-9:
        ck.fail("config.funding_shares", "funding", total=f"{total:g}", expected=Msg("config.expect_shares_one"))
    return items, lifecycles


def _schema_2(ck: _Checker) -> None:
    """What schema 2 added is refused in a file that says (or leaves) schema 1: the file states the shape it has."""
    cf = ck.cf
    if cf.schema_ >= 2:
        return
    if cf.reporting is not None:
        ck.fail("config.needs_schema_2", "reporting", key="reporting", expected=SCHEMA_2)
    for key in ("indicators", "special_plans"):
        if getattr(cf, key):
            ck.fail("config.needs_schema_2", key, key=key, expected=SCHEMA_2)
    def milestones(path, ms):
        for j, m in enumerate(ms):
            for key, value in (("targets", m.targets), ("optional", m.optional), ("condition", m.condition)):
                if value:
                    ck.fail("config.needs_schema_2", *path, j, key, key=key, expected=SCHEMA_2)

    for i, task in enumerate(cf.tasks):
        if task.domain is not None:
            ck.fail("config.needs_schema_2", "tasks", i, "domain", key="domain", expected=SCHEMA_2)
        if task.lead_mode != "first":
            ck.fail("config.needs_schema_2", "tasks", i, "lead_mode", key="lead_mode", expected=SCHEMA_2)
        milestones(("tasks", i, "milestones"), task.milestones)
    for name, lc in cf.lifecycles.items():
        milestones(("lifecycles", name, "milestones"), lc.milestones)


def _check_special_plans(ck: _Checker) -> None:
    """Listed 专项规划 need the special-plan lifecycle, known units and distinct titles."""
    seen: dict[str, int] = {}
    for i, sp in enumerate(ck.cf.special_plans):
        if "special_plan" not in ck.cf.lifecycles:
            ck.fail("config.special_plans_no_lifecycle", "special_plans",
                    expected=Msg("config.expect_special_plan_lifecycle"))
        for j, d in enumerate(sp.lead):
            ck.dept(d, "special_plans", i, "lead", j)
        for j, d in enumerate(sp.cooperating):
            ck.dept(d, "special_plans", i, "cooperating", j, allow_group=True)
        if sp.title.strip() in seen:
            ck.fail("config.special_plan_twice", "special_plans", i, "title", title=sp.title,
                    index=seen[sp.title.strip()])
        seen[sp.title.strip()] = i


def _check_indicators(ck: _Checker) -> None:
    """Indicators: lead units exist; a base has its year, a target its year, after the base's; a ``level`` is
    judged on the path from base to target, so it needs both (a ``yearly`` figure needs the target only)."""
    for i, ind in enumerate(ck.cf.indicators):
        for j, d in enumerate(ind.lead):
            ck.dept(d, "indicators", i, "lead", j)
        if (ind.base is None) != (ind.base_year is None):
            ck.fail("config.indicator_base_pair", "indicators", i, "base" if ind.base is None else "base_year",
                    indicator=ind.id, expected=Msg("config.expect_base_pair"))
        if (ind.target is None) != (ind.target_year is None):
            ck.fail("config.indicator_target_pair", "indicators", i,
                    "target" if ind.target is None else "target_year", indicator=ind.id,
                    expected=Msg("config.expect_target_pair"))
        if ind.base_year is not None and ind.target_year is not None and ind.target_year <= ind.base_year:
            ck.fail("config.indicator_years", "indicators", i, "target_year", indicator=ind.id,
                    target_year=ind.target_year, base_year=ind.base_year)
        if ind.measure == "level" and ind.target is not None and ind.base is None:
            ck.fail("config.indicator_level_no_base", "indicators", i, indicator=ind.id,
                    expected=Msg("config.expect_base_or_yearly"))


def _periods(rep) -> list[tuple[int, int]]:
    y0, m0 = (int(x) for x in rep.start.split("-"))
    y1, m1 = (int(x) for x in rep.end.split("-"))
    out = []
    y, m = y0, m0
    while (y, m) <= (y1, m1):
        if rep.every == "month" or (rep.every == "quarter" and m % 3 == 0) or (rep.every == "year" and m == 12):
            out.append((y, m))
        y, m = (y + (m == 12), m % 12 + 1)
    return out


def _reporting_items(ck: _Checker, raw: list[dict], stages) -> list[dict]:
    """The reporting rhythm as items: one per lead unit of the tasks, one milestone per period."""
    import calendar as _cal

    rep = ck.cf.reporting
    for key in ("start", "end"):
        y, m = (int(x) for x in getattr(rep, key).split("-"))
        if not 1 <= m <= 12:
            ck.fail("config.no_such_month", "reporting", key, month=getattr(rep, key), expected="YYYY-MM")
    periods = _periods(rep)
    if not periods:
        ck.fail("config.no_period", "reporting", start=rep.start, end=rep.end,
                expected=Msg("config.expect_start_before_end"))
    for key in ("title", "name"):
        text = getattr(rep, key)
        for field in re.findall(r"{([^}]*)}", text):
            if field not in ("unit", "year", "month", "quarter"):
                ck.fail("config.unknown_placeholder", "reporting", key, placeholder="{" + field + "}", key=key,
                        expected=Msg("config.expect_placeholders", unit="{unit}", year="{year}", month="{month}",
                                     quarter="{quarter}"))
    units: list[str] = []
    if rep.reporters == "indicator_leads":
        if not ck.cf.indicators:
            ck.fail("config.reporting_no_indicators", "reporting", "reporters",
                    expected=Msg("config.expect_indicator_reporters"))
        for i, ind in enumerate(ck.cf.indicators):
            units += [u for u in (ck.dept(d, "indicators", i, "lead", j) for j, d in enumerate(ind.lead))
                      if u not in units]
    else:
        for r in raw:
            if r["kind"] == "task":
                units += [u for u in r["lead"] if u not in units]
    if not units:
        ck.fail("config.nobody_reports", "reporting", "reporters")
    milestones = []
    for y, m in periods:
        if rep.every == "year":  # the report on year y is due in due_month of the next year
            dy, dm = y + 1, rep.due_month
            period, mid, start = str(y), f"y{y}", dt.date(y, 12, 1)
        else:
            dy, dm = y, m
            period = f"{y}-{m:02d}" if rep.every == "month" else f"{y}-Q{(m + 2) // 3}"
            mid, start = f"m{y}{m:02d}", dt.date(y, m, 1)
        due = dt.date(dy, dm, min(rep.day, _cal.monthrange(dy, dm)[1]))
        stage = next((st.id for st in stages if st.start_date <= due <= st.end_date), None)
        if stage is None:
            ck.fail("config.report_outside_stages", "reporting", due=due,
                    expected=Msg("config.expect_report_months"))
        name = rep.name.replace("{year}", str(y)).replace("{month}", str(m)).replace("{quarter}", str((m + 2) // 3))
        milestones.append(MilestoneSpec(id=mid, name=name, due=due, start=start, stage=stage,
                                        deliverables=rep.deliverables, period=period))
    out = []
    by_short = {d.short: d for d in ck.dfile.departments}
    for unit in units:
        d = by_short[unit]
        out.append(dict(key=f"{rep.key_prefix}{d.id}", kind="task", title=rep.title.replace("{unit}", unit),
                        stage=milestones[0].stage, lead=(unit,), cooperating=(), ref=None,
                        text=f"于每期{rep.day}日前报送" + (f"{rep.to}" if rep.to else ""), mode=None,
                        ms=tuple(milestones), ms_path=("reporting",), reporting=True))
    return out


def _check_item_keys(ck: _Checker, raw: list[dict]) -> None:
    """Items have distinct keys: a task id may not be a topic's key (topic-03), nor look like the key a proposed
    special plan gets (special-plan-01, or the lifecycle's key_prefix followed by digits)."""
    seen: dict[str, dict] = {}
    sp_prefix = _key_prefix(ck.cf, "special_plan") if "special_plan" in ck.cf.lifecycles else None
    for r in raw:
        if r.get("template"):
            continue
        if r["key"] in seen:
            ck.fail("config.item_key_twice", *r["ms_path"][:2], key=r["key"], expected=Msg("config.expect_task_ids"))
        seen[r["key"]] = r
        if sp_prefix and r["kind"] != "special_plan" and r["key"].startswith(sp_prefix) \
                and r["key"][len(sp_prefix):].isdigit():
            ck.fail("config.item_key_like_special_plan", *r["ms_path"][:2], key=r["key"], prefix=sp_prefix,
                    expected=Msg("config.expect_other_key"))


# where each role may be, and what it is derived from when the file names none (docs/cycle-schema.md, Roles)
_ROLE_PLACE = ROLES


def _roles(ck: _Checker, raw: list[dict]) -> dict[tuple[str, str], str]:
    """The role of every milestone that plays one, by (item key, milestone id) — ``special_plans`` standing for
    the special-plan lifecycle. As written (``role:``), checked for its place and given once only; else derived
    from the file's structure, so files written before roles existed keep working:

    * ``contractor_choice``: the topic lifecycle's milestone that only tendered topics have (``only_for:
      open_call``): choosing a contractor is what a call for tender leads to;
    * ``registration``: the first special-plan milestone after the proposal that the coordinator owns: the
      departments propose, the coordinator confirms;
    * ``special_plan_confirmation``: the task milestone completed by a gate that waits for every special plan's
      registration.
    """
    cf = ck.cf
    where = {"topic": Msg("config.place_topic"), "special_plan": Msg("config.place_special_plan"),
             "task": Msg("config.place_task")}
    found: dict[str, tuple[str | None, str]] = {}  # role → (task key or None, milestone id)
    first_at: dict[str, tuple] = {}

    def note(role: str, place: str, task: str | None, mid: str, path: tuple) -> None:
        if _ROLE_PLACE[role] != place:
            ck.fail("config.role_wrong_place", *path, "role", role=role, place=where[_ROLE_PLACE[role]])
        if role in found:
            ck.fail("config.role_twice", *path, "role", role=role, first=_dotted(first_at[role]),
                    expected=Msg("config.expect_one_role"))
        found[role] = (task, mid)
        first_at[role] = path

    for name, lc in cf.lifecycles.items():
        place = name if name in ("topic", "special_plan") else "other lifecycles"
        for idx, m in enumerate(lc.milestones):
            if m.role:
                note(m.role, place, None, m.id, ("lifecycles", name, "milestones", idx))
    for ti, task in enumerate(cf.tasks):
        for idx, m in enumerate(task.milestones):
            if m.role:
                note(m.role, "task", task.id, m.id, ("tasks", ti, "milestones", idx))
    # derived, for the roles the file does not write
    if "contractor_choice" not in found and "topic" in cf.lifecycles:
        m = next((m for m in cf.lifecycles["topic"].milestones if m.only_for == "open_call"), None)
        if m is not None:
            found["contractor_choice"] = (None, m.id)
    if "registration" not in found and "special_plan" in cf.lifecycles:
        m = next((m for m in cf.lifecycles["special_plan"].milestones[1:] if m.owner == "coordinator"), None)
        if m is not None:
            found["registration"] = (None, m.id)
    if "special_plan_confirmation" not in found and "registration" in found:
        reg = found["registration"][1]
        for task in cf.tasks:
            m = next((m for m in task.milestones if m.completes_when
                      and ("special_plans", reg) in gate_milestone_refs(cf.gates, m.completes_when)), None)
            if m is not None:
                found["special_plan_confirmation"] = (task.id, m.id)
                break
    out: dict[tuple[str, str], str] = {}
    for role, (task, mid) in found.items():
        if role == "contractor_choice":
            out.update({(r["key"], mid): role for r in raw if r["kind"] == "topic"})
        elif role == "registration":
            out[("special_plans", mid)] = role
        else:
            out[(task, mid)] = role
    return out


def _inherited_deps(ck: _Checker, r: dict, deps_of: dict, excluded: set):
    """``expand(deps)``: deps with every milestone excluded for this item (only_for) replaced by what it waits
    for, transitively. Iterative and memoised: excluded milestones waiting for each other in a circle are a
    dependency cycle (reported), and a long chain of them is no RecursionError."""
    done: dict[str, tuple] = {}
    index = {m.id: i for i, m in enumerate(r["ms"])}

    def resolve(d: str) -> tuple:
        if d in done:
            return done[d]
        path = [d]
        stack = [(d, iter(deps_of[d]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                out = []
                for x in deps_of[node]:
                    out.extend(done[x] if x in excluded else (x,))
                done[node] = tuple(dict.fromkeys(out))
                stack.pop()
                path.pop()
                continue
            if nxt not in excluded or nxt in done:
                continue
            if nxt in path:
                cyc = path[path.index(nxt):] + [nxt]
                ck.fail("config.dependency_cycle", *r["ms_path"], index[nxt],
                        cycle=" → ".join(f"{r['key']}:{x}" for x in cyc), expected=Msg("config.expect_earlier_deps"))
            path.append(nxt)
            stack.append((nxt, iter(deps_of[nxt])))
        return done[d]

    def expand(ds) -> tuple:
        out = []
        for d in ds:
            out.extend(resolve(d) if d in excluded else (d,))
        return tuple(dict.fromkeys(out))

    return expand
