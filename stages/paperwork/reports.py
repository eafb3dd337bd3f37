"""The periodic documents, drawn from the cycle's state rather than from one move.

Owns: ``supervision`` — the periodic 督办通知 to the units with work overdue past the 督办 rung (the reminders it
covers linked to it); ``monthly_report`` — the month's 进展情况 as a 报告 (or an unnumbered 简报, per settings), with
the day it is filed (``report_day_of``) and the units' reporting rule (``reporting_rule``); ``indicator_report`` —
the yearly 《纲要》主要指标监测情况 from the recorded figures (a 报告 or a 简报, per settings). Each is drafted once per
period (its ``idem_key``). Called by the sweep and report flows and the CLI, through ``stages.paperwork.drafting``
or here; the numbers themselves are the engine's (``stages.engine.sweep.monthly_report``,
``stages.engine.indicators``) and the board's (``stages.views.board``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict

from sqlmodel import Session, select

from stages.definition.calendar import WorkCalendar, calendar_for
from stages.definition.spec import CycleSpec
from stages.engine import indicators as ix
from stages.engine.indicators import figure_rows
from stages.engine.sweep import monthly_report as compute_monthly_report, report_day
from stages.ground.clock import as_datetime, now
from stages.ground.errors import PlancycleError
from stages.ground.i18n import Msg
from stages.paperwork import notices as nt
from stages.paperwork.naming import item_name, words, work_name
from stages.store.models import AuditEvent, CycleRun, Decision, Item, Milestone, Notice, Reminder, Submission
from stages.store.runs import find_run
from stages.views.board import board

DONE = ("accepted", "waived", "complete")


# -- 督办: periodic, to the late units ----------------------------------------------------------------------------------
def _period_key(day: dt.date, every: str) -> str:
    if every == "week":
        y, w, _ = day.isocalendar()
        return f"{y}-W{w:02d}"
    if every == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()  # "rung": every sweep that fires the rung, batched


def supervision(session: Session, specs: dict[str, CycleSpec], cal: WorkCalendar, as_of=None,
                flow_run_id: str | None = None) -> list[Notice]:
    """One 督办通知 per run and period (settings: ``every: week | month | rung``) addressed to the units whose
    work has passed the 督办 rung and is still not delivered — or to the 督查 office (``via``) naming them. The
    reminders it covers are linked to it; later ones wait for the next period."""
    when = as_datetime(as_of)
    day = when.date()
    made = []
    for run in session.exec(select(CycleRun).where(CycleRun.status == "active")).all():
        spec = specs.get(run.spec_id)
        if spec is None:
            continue
        cfg = nt.load_config(spec.notices_path)
        ds = nt.doc_settings(cfg, "supervision")
        key = f"supervision:{_period_key(day, ds.get('every', 'month'))}"
        if session.exec(select(Notice.id).where(Notice.run_id == run.id, Notice.idem_key == key)).first():
            continue
        rows = session.exec(select(Reminder, Milestone, Item).join(Milestone, Milestone.id == Reminder.milestone_id)
                            .join(Item, Item.id == Milestone.item_id)
                            .where(Reminder.run_id == run.id, Reminder.rung == "escalate",
                                   Reminder.notice_id.is_(None), Milestone.status.in_(["open", "returned"]),
                                   Milestone.due_version == Reminder.due_version)
                            .order_by(Milestone.owner, Milestone.due_date)).all()
        issuer = spec.coordinator.short
        rows = [r for r in rows if r[1].owner != issuer]  # the office does not 督办 itself
        if not rows:
            continue
        units: dict[str, list] = defaultdict(list)
        for rem, m, it in rows:
            units[m.owner].append({"item_title": item_name(it), "name": m.name, "what": work_name(it, m.name, spec), "due_cn": nt.cn_date(m.due_date),
                                   "workdays_late": cal.workdays_between(m.due_date, day)})
        ranked = sorted(units.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        via = ds.get("via")
        to = via or "、".join(u for u, _ in ranked)
        c = {**words(spec), "to": to, "via": via, "units": [{"unit": u, "rows": r} for u, r in ranked],
             "escalate_after": spec.file.reminders.escalate_after_workdays, "rank": bool(ds.get("rank", True)),
             "reply_workdays": int(ds.get("reply_within_workdays", 3)),
             "reply_due_cn": nt.cn_date(cal.add_workdays(day, int(ds.get("reply_within_workdays", 3))))}
        n = nt.draft(session, run.id, "supervision", c, recipients=[via] if via else [u for u, _ in ranked],
                     about=_period_key(day, ds.get("every", "month")), as_of=when, flow_run_id=flow_run_id,
                     cfg=cfg, key=key)
        for rem, _m, _it in rows:
            rem.notice_id = n.id
            session.add(rem)
        made.append(n)
    session.flush()
    return made


# -- the monthly 进展情况 ------------------------------------------------------------------------------------------------
def report_day_setting(spec: CycleSpec) -> int:
    """The day of the month the office files its progress report: ``documents.monthly_report.day``, else 25."""
    return int(nt.doc_settings(nt.load_config(spec.notices_path), "monthly_report").get("day") or 25)


def report_day_of(spec: CycleSpec, cal: WorkCalendar, year: int, month: int) -> dt.date:
    """That day in a given month, or the working day before it."""
    return report_day(cal, year, month, report_day_setting(spec))


def monthly_report(session: Session, spec: CycleSpec, cal: WorkCalendar, month: str, as_of=None,
                   flow_run_id: str | None = None) -> tuple[dict, bool]:
    """Compute the month's report and draft it (报告 to 区政府 with 签发人, or a 简报), once per month."""
    report = compute_monthly_report(session, spec, cal, month, as_of, day=report_day_setting(spec))
    run = find_run(session, spec.id)
    key = f"monthly:{report['month']}"
    existing = session.exec(select(Notice).where(Notice.run_id == run.id, Notice.idem_key == key)).first()
    if existing is not None:
        return existing.data.get("report", report), False
    when = as_datetime(as_of or report["report_day"])
    cfg = nt.load_config(spec.notices_path)
    ds = nt.doc_settings(cfg, "monthly_report")
    context = monthly_report_context(session, spec, run.id, report, cal)
    context["to"] = ds.get("to") or ""
    context["report"] = report
    if context["report_rule"] is None and ds.get("rule"):  # the office's own rule where the cycle has no rhythm
        context["report_rule"] = str(ds["rule"]).strip()
    nt.draft(session, run.id, "monthly_report", context, recipients=[context["to"]] if context["to"] else [],
             about=report["month"], as_of=when, flow_run_id=flow_run_id, key=key, cfg=cfg)
    session.add(AuditEvent(run_id=run.id, at=when, recorded_at=now(), actor="system", action="report.monthly",
                           target=report["month"], data={"totals": report["totals"]}, flow_run_id=flow_run_id))
    session.flush()
    return report, True


def reporting_rule(spec: CycleSpec) -> str | None:
    """When the units report, in the words of the cycle's reporting rhythm (``reporting.day``): 每月20日前;
    None for a cycle without one: the report then cites no day, unless the notice settings give the office's own
    rule (``documents.monthly_report.rule: 每月25日前``)."""
    r = spec.file.reporting
    if r is None:
        return None
    if r.every == "month":
        return f"每月{r.day}日前"
    if r.every == "quarter":
        return f"每季度末月{r.day}日前"
    return f"每年{r.due_month}月{r.day}日前"


REPORT_PART_ZH = (("progress", "本期进展"), ("problems", "存在问题"), ("next", "下步安排"))


def _figure(value: float, unit: str | None) -> str:
    return f"{value:g}{unit or ''}"


def _targets_due(session: Session, spec: CycleSpec, items: dict, first: dt.date, cut: dt.date) -> dict | None:
    """The month's quantified targets (schema 2): those due since the last report, with the actual figures and 欠/达/超进度 —
    the board's reading as of the report's cut-off day. None when the cycle has no targets."""
    if not any(m.targets for it in spec.items for m in it.milestones):
        return None
    # since the last report: deadlines after the month before's report day (a quarter's targets, due on its last
    # day, are read in the next month's report, with the figures handed in by then); none falls between two
    prev = dt.date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    since = report_day_of(spec, calendar_for(spec), prev.year, prev.month)
    data = board(session, spec, dt.datetime.combine(cut, dt.time(18)))
    rows = {"behind": [], "on": [], "ahead": [], "none": []}
    for it in data["items"]:
        for m in it["milestones"]:
            if not m.get("targets") or not since < dt.date.fromisoformat(m["due"]) <= cut:
                continue
            what = work_name(items[it["key"]], m["name"], spec) if it["key"] in items else it["title"]
            figures = "，".join(f"{t['of'] or '目标'}目标{_figure(t['value'], t['unit'])}"
                               + (f"、实际{_figure(t['actual'], t.get('actual_unit') or t['unit'])}" if "actual" in t else "")
                               for t in m["targets"])
            rows[m.get("progress") or "none"].append({"what": what, "owner": m["owner"], "figures": figures})
    total = sum(len(v) for v in rows.values())
    return {"total": total, **{k: v for k, v in rows.items()}} if total else None


def monthly_report_context(session: Session, spec: CycleSpec, run_id: int, report: dict, cal: WorkCalendar) -> dict:
    y, m = (int(x) for x in report["month"].split("-"))
    first = dt.date(y, m, 1)
    nxt_first = dt.date(y + (m == 12), m % 12 + 1, 1)
    cut = dt.date.fromisoformat(report["as_of"])
    items = {i.key: i for i in session.exec(select(Item).where(Item.run_id == run_id))}
    # what departments wrote this month with what they sent: 进展, 问题, 下步
    notes: dict[str, list[str]] = defaultdict(list)
    for sub, ms in session.exec(select(Submission, Milestone).join(Milestone, Milestone.id == Submission.milestone_id)
                                .where(Submission.run_id == run_id)):
        if not first <= sub.submitted_at.date() <= cut:
            continue
        if sub.report:  # a periodic report's three parts, as the unit wrote them
            parts = [f"{label}：{sub.report[k].strip().rstrip('。')}" for k, label in REPORT_PART_ZH
                     if sub.report.get(k) and sub.report[k].strip() not in ("无", "")]
            if parts:
                notes[ms.owner].append(f"{work_name(items[ms.item_key], ms.name, spec)}，" + "；".join(parts))
        elif sub.note and sub.note.strip() not in ("按要求报送",):
            notes[ms.owner].append(f"{work_name(items[ms.item_key], ms.name, spec)}，{sub.note.strip().rstrip('。')}")
    returned: dict[str, int] = defaultdict(int)
    for d, ms in session.exec(select(Decision, Milestone).join(Milestone, Milestone.id == Decision.milestone_id)
                              .where(Decision.run_id == run_id, Decision.kind == "return")):
        if first <= d.at.date() <= cut:
            returned[ms.owner] += 1
    departments = []
    for i, d in enumerate(report["departments"]):
        late = [{"what": work_name(items[it["item"]], it["name"], spec) if it["item"] in items else it["title"],
                 "due_cn": nt.cn_date(dt.date.fromisoformat(it["due"])), "workdays_late": it["workdays_late"]}
                for it in d["items"] if it["late"]]
        done = [work_name(items[it["item"]], it["name"], spec) if it["item"] in items else it["title"]
                for it in d["items"] if it["status"] in DONE]
        # completed by a move, with nothing handed in (承接单位 chosen, 立项确认, a gate): done, not 报送
        settled = sum(1 for it in d["items"] if it["status"] in DONE and not it["arrived"]
                      and first <= dt.date.fromisoformat(it["due"]) < nxt_first)
        departments.append({"dept": d["dept"], "no_cn": nt.cn_no(i + 1), "due": d["due"], "arrived": d["arrived"],
                            "settled": settled,
                            "late": late, "done": done, "returned": returned.get(d["dept"], 0),
                            "notes": notes.get(d["dept"], [])[:5]})
    # what comes next: the work due before the end of the following month, by unit
    nxt_end = dt.date(y + (m >= 11), (m + 1) % 12 + 1, 1)
    upcoming: dict[str, list[str]] = defaultdict(list)
    for ms in session.exec(select(Milestone).where(Milestone.run_id == run_id,
                                                   Milestone.status.in_(["open", "pending", "returned"]),
                                                   Milestone.due_date > cut, Milestone.due_date < nxt_end)
                           .order_by(Milestone.due_date, Milestone.item_key)):
        if ms.item_key in items and items[ms.item_key].status == "active":
            upcoming[ms.owner].append(f"{work_name(items[ms.item_key], ms.name, spec)}（{nt.cn_date(ms.due_date)}前）")
    name = spec.cycle_name
    return {**words(spec), "month_cn": f"{y}年{m}月", "as_of_cn": nt.cn_date(cut), "totals": report["totals"],
            # the title's month: 2027年区政府重点工作推进1月进展情况, the year not said twice
            "title_month": f"{m}月" if name.startswith(f"{y}年") else f"{y}年{m}月",
            "report_rule": reporting_rule(spec), "settled": sum(d["settled"] for d in departments),
            "targets": _targets_due(session, spec, items, first, cut),
            "returned": sum(returned.values()), "departments": departments,
            "upcoming": [{"dept": d, "rows": r[:4], "more": max(len(r) - 4, 0)}
                         for d, r in sorted(upcoming.items(), key=lambda kv: (-len(kv[1]), kv[0]))][:8],
            "upcoming_total": sum(len(r) for r in upcoming.values())}


# -- the yearly 《纲要》主要指标监测情况 -----------------------------------------------------------------------------------
def _value(x: float | None, unit: str | None = "") -> str:
    """A figure as a document writes it: 6.1%, 31.8微克/立方米; nothing for no value."""
    if x is None:
        return ""
    return f"{round(x, 4):g}{unit or ''}"


def _notes(inds) -> dict | None:
    """The indicators' ``note`` (示例值 …) as the report prints it: what all of them say once (``common``), what
    only some say after their names (``own``: [{names, text}]). None when no indicator has a note."""
    noted = [(i.name, i.note.strip()) for i in inds if i.note and i.note.strip()]
    if not noted:
        return None
    texts = [t for _, t in noted]
    common = os.path.commonprefix(texts)
    # cut back to where each note ends or goes on with a clause or an aside of its own
    while common and not all(t == common or t[len(common)] in "（(，,；;。" for t in texts):
        common = common[:-1]
    common = common.rstrip("，,；;。 ")
    if len(common) < 4:
        common = ""
    own: dict[str, list[str]] = {}
    for name, t in noted:
        rest = t[len(common):].strip("，,；;。 ") if common else t
        if rest[:1] in "（(" and rest[-1:] in "）)":
            rest = rest[1:-1].strip()
        if rest:
            own.setdefault(rest.rstrip("。"), []).append(name)
    return {"common": common, "all": len(noted) == len(inds), "noted": [n for n, _ in noted] if common else [],
            "own": [{"names": "、".join(names), "text": text} for text, names in own.items()]}


_REPORT_ORDER = ("ahead", "on_track", "met", "behind", "not_met", "no_target", "no_data")  # best first, no figure last


def indicator_report_context(spec: CycleSpec, figures, year: int, as_of=None) -> dict:
    """The 纲要's 主要指标 in ``year`` as the report states them, from the figure rows recorded on or before ``as_of``
    (``stages.engine.indicators.indicator_board``): every indicator with its base, that year's actual (none: 暂无数据,
    never a guess), target and judgement (``stages.engine.indicators.judge`` for that year), the counts, the 约束性
    indicators by name, the 预警 ones with their expected value and lead units, the 预期性 ones behind, those with
    no figure yet, and the indicators' notes. Refuses a cycle without indicators, a year with no monitoring and a
    year not over on ``as_of``."""
    inds = list(spec.file.indicators)
    if not inds:
        raise PlancycleError("paperwork.no_indicators", cycle=spec.id)
    years = ix.board_years(spec)
    if year not in years:
        span = Msg("paperwork.year_span", first=years[0], last=years[-1]) if years else Msg("paperwork.no_year")
        raise PlancycleError("paperwork.no_monitoring_year", year=year, name=spec.cycle_name, span=span)
    when = as_datetime(as_of)
    if when.date() <= dt.date(year, 12, 31):
        raise PlancycleError("paperwork.year_not_over", year=year, date=when.date().isoformat(),
                             from_day=f"{year + 1}-01-01")
    board = ix.indicator_board(spec, figures, when)
    by_id = {b["id"]: b for b in board["indicators"]}
    rows, binding, warnings, behind, missing = [], [], [], [], []
    counts = {k: 0 for k in ix.STATUS_ZH}
    statuses: dict[str, str] = {}
    base_years = {i.base_year for i in inds if i.base is not None}
    target_years = {i.target_year for i in inds if i.target is not None}
    one_base = next(iter(base_years)) if len(base_years) == 1 else None
    one_target = next(iter(target_years)) if len(target_years) == 1 else None
    for ind in inds:
        actual = next((a for a in by_id[ind.id]["actuals"] if a["year"] == year), None)
        j = ix.judge(ind, year, actual["value"] if actual else None)
        counts[j["status"]] += 1
        statuses[ind.id] = j["status"]
        leads = "、".join(spec.department(d).short for d in ind.lead) or spec.coordinator.short
        label = j["label"] + (f"（{ix.WARNING_ZH}）" if j["warning"] else "")
        unit = ind.unit or ""
        base = "" if ind.base is None else _value(ind.base) + ("" if one_base else f"（{ind.base_year}年）")
        target = "" if ind.target is None else _value(ind.target) + ("" if one_target else f"（{ind.target_year}年）")
        rows.append({"name": ind.name, "kind": ind.kind, "unit": unit, "base": base or "—",
                     "actual": _value(j["actual"]) if j["actual"] is not None else ix.STATUS_ZH["no_data"],
                     "target": target or "—", "label": label})
        if ind.kind == "约束性":
            binding.append({"name": ind.name, "label": j["label"], "warning": j["warning"]})
        entry = {"name": ind.name, "kind": ind.kind, "lead": leads, "label": j["label"],
                 "actual": _value(j["actual"], unit), "expected": _value(j["expected"], unit),
                 "path": ind.measure == "level" and ind.base is not None,
                 "target": _value(ind.target, unit), "target_year": ind.target_year}
        if j["warning"]:
            warnings.append(entry)
        elif j["status"] in ("behind", "not_met"):
            behind.append(entry)
        elif j["status"] == "no_data":
            missing.append(entry)
    missing_leads = sorted({u for m in missing for u in m["lead"].split("、")})
    warning_leads = list(dict.fromkeys(u for w in warnings for u in w["lead"].split("、")))
    by_status = [{"label": ix.STATUS_ZH[k], "names": "、".join(r["name"] for r, ind in zip(rows, inds)
                                                              if statuses[ind.id] == k)}
                 for k in _REPORT_ORDER if counts[k]]
    return {**words(spec), "year": year, "as_of_cn": nt.cn_date(when.date()), "total": len(inds),
            "reported": len(inds) - counts["no_data"],
            "counts": [{"label": ix.STATUS_ZH[k], "n": counts[k]} for k in _REPORT_ORDER if counts[k]],
            "binding": binding, "indicative": sum(1 for i in inds if i.kind != "约束性"),
            "warnings": warnings, "behind": behind, "missing": missing, "missing_leads": "、".join(missing_leads),
            "warning_leads": "、".join(warning_leads), "by_status": by_status, "rows": rows, "has_yearly": any(i.measure == "yearly" for i in inds), "base_year": one_base, "target_year": one_target, "notes": _notes(inds),
            "annex_title": f"《纲要》主要指标{year}年度监测情况表"}


def _government(spec: CycleSpec) -> str | None:
    """The cycle's government among its approval bodies (the one whose name ends in 政府), the report's default 主送."""
    return next((b for b in spec.file.approval_bodies.values() if b.endswith("政府")), None)


def indicator_report(session: Session, spec: CycleSpec, year: int, as_of=None, flow_run_id: str | None = None,
                     by: str | None = None) -> tuple[Notice, bool]:
    """Draft the yearly 《纲要》主要指标监测情况 for ``year`` (a 报告 with 签发人 to the settings' 主送 — default the
    cycle's government body — or a 简报, per ``documents.indicator_report``), once per year: the same year again
    returns the first draft (or the signed document) and drafts nothing. Values are the figures recorded on or
    before ``as_of`` (default now). Returns (the document, whether it was drafted now)."""
    try:
        year = int(str(year).strip())
    except (TypeError, ValueError):
        raise PlancycleError("paperwork.not_a_year", year=year) from None
    run = find_run(session, spec.id)
    key = f"indicator_report:{year}"
    when = as_datetime(as_of)
    context = indicator_report_context(spec, figure_rows(session, spec), year, when)  # refusals before the replay
    existing = session.exec(select(Notice).where(Notice.run_id == run.id, Notice.idem_key == key)).first()
    if existing is not None:
        return existing, False
    cfg = nt.load_config(spec.notices_path)
    ds = nt.doc_settings(cfg, "indicator_report")
    to = str(ds.get("to") or "").strip() or (_government(spec) or "")
    if ds["genre"] in nt.UPWARD_GENRES and not to:
        raise PlancycleError("paperwork.indicator_report_no_to", path=spec.notices_path)
    context["to"] = to
    context["next"] = str(ds.get("next") or "").strip()
    n = nt.draft(session, run.id, "indicator_report", context, recipients=[to] if to else [], about=str(year),
                 as_of=when, flow_run_id=flow_run_id, key=key, cfg=cfg)
    session.add(AuditEvent(run_id=run.id, at=when, recorded_at=now(), actor=by or "system",
                           action="report.indicators", target=str(year),
                           data={"notice": n.id, "counts": {c["label"]: c["n"] for c in context["counts"]},
                                 "warnings": [w["name"] for w in context["warnings"]]}, flow_run_id=flow_run_id))
    session.flush()
    return n, True

