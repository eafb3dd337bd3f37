"""The 纲要's 主要指标 after adoption: each year's actual against the target, judged, and the 预警.

Owns: :func:`judge` (one indicator, one year, one actual → where it stands), :func:`indicator_board` (every
indicator of a cycle with its yearly actuals and the judgement of its latest year, from plain figure rows) and
:func:`record` (the coordinator or an indicator's lead unit records a yearly actual directly — a figure the
统计局 publishes outside any report). Pure domain: no Prefect; ``record`` is a move like the other moves and uses
their helpers (``_ctx``, ``_replayed``, ``_audit`` from ``stages.engine.context``, ``_finish`` from
``stages.engine.propagation``), so it is refused, audited and replayed the same way.

Where actual figures come from: a Figure row with subject ``indicator:<id>`` and ``period`` the year it stands
for (``"2021"``) — written by a yearly report's ``--figure ID=VALUE`` (``deliverables.submit``; the reporting
milestone's period) or by :func:`record`. Rows are only added; the latest row (by ``at``, then id) for a year is
that year's actual. A figure whose period is not a year (a monthly report's ``2021-03``, a milestone's due date)
is not a yearly actual: the board lists it under ``other_figures`` and does not judge it.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from sqlmodel import select

from stages.definition.spec import CycleSpec, IndicatorSpec
from stages.engine.context import _audit, _ctx, _fingerprint, _replayed
from stages.engine.propagation import _finish
from stages.ground.clock import as_datetime
from stages.ground.errors import NotFound, PlancycleError
from stages.ground.i18n import Msg
from stages.rules.identity import Forbidden
from stages.store.models import Figure
from stages.store.rows import run_rows

STATUS_ZH = {
    "on_track": "符合预期",
    "behind": "滞后于预期",
    "ahead": "好于预期",
    "met": "已完成",
    "not_met": "未完成",
    "no_data": "暂无数据",
    "no_target": "无目标值",
}
WARNING_ZH = "预警"
SUBJECT = "indicator:"  # a figure row's subject for an indicator: "indicator:<id>"
_EPS = 1e-9
_YEAR = re.compile(r"\d{4}\Z")


def expected_value(ind: IndicatorSpec, year: int) -> float | None:
    """What the indicator should be in ``year``: a ``level`` on the straight path from ``base`` (``base_year``)
    to ``target`` (``target_year``), the target itself from the target year on and the base up to the base year;
    a ``yearly`` figure: the target, every year. None without a target."""
    if ind.target is None:
        return None
    if ind.measure == "yearly" or ind.base is None or ind.base_year is None or ind.target_year is None:
        return float(ind.target)
    if year >= ind.target_year:
        return float(ind.target)
    if year <= ind.base_year:
        return float(ind.base)
    share = (year - ind.base_year) / (ind.target_year - ind.base_year)
    return ind.base + (ind.target - ind.base) * share


def judge(ind: IndicatorSpec, year: int, actual: float | None) -> dict:
    """Where ``ind`` stands in ``year`` with ``actual`` (None: nothing reported).

    The rule (seed 003, 二、2: 对于约束性指标，责任部门要全力以赴推进落实，确保到“十四五”期末完成目标；对于预期性指标，
    责任部门要加强跟踪监测，加强政策引导，推动指标完成):

    * expected: a ``level`` indicator on the straight path from its base to its target (2021 of a 2020 → 2025
      path is a fifth of the way); a ``yearly`` one (年均增长, 每年新增) its target, every year;
    * the gap is ``actual − expected`` for ``direction: up`` (more is better) and ``expected − actual`` for
      ``down`` (能耗, PM2.5, 失业率: less is better); ``tolerance`` (in the indicator's unit) is how far either way
      still counts as expected (“6%左右”);
    * before the target year: gap below −tolerance → ``behind`` 滞后于预期, above +tolerance → ``ahead`` 好于预期,
      else ``on_track`` 符合预期;
    * in the target year and after: gap at least −tolerance → ``met`` 已完成, else ``not_met`` 未完成;
    * no target → ``no_target`` 无目标值; no actual → ``no_data`` 暂无数据 (with the expected value);
    * ``warning`` (预警): a 约束性 indicator ``behind`` or ``not_met`` — a binding target must be reached by the
      end of the period, so falling off its path is flagged; a 预期性 one is only tracked (跟踪监测).

    Returns ``{indicator, name, kind, unit, year, actual, expected, gap, status, label, warning}`` (``gap``
    positive is better than expected, in the indicator's unit; None when there is nothing to compare)."""
    expected = expected_value(ind, year)
    out = {"indicator": ind.id, "name": ind.name, "kind": ind.kind, "unit": ind.unit, "year": year,
           "actual": actual, "expected": _round(expected), "gap": None}
    if expected is None:
        status = "no_target"
    elif actual is None:
        status = "no_data"
    else:
        gap = (actual - expected) if ind.direction == "up" else (expected - actual)
        out["gap"] = _round(gap)
        tol = ind.tolerance + _EPS * max(1.0, abs(expected))
        final = ind.target_year is not None and year >= ind.target_year
        if final:
            status = "met" if gap >= -tol else "not_met"
        elif gap < -tol:
            status = "behind"
        elif gap > tol:
            status = "ahead"
        else:
            status = "on_track"
    out.update(status=status, label=STATUS_ZH[status],
               warning=ind.kind == "约束性" and status in ("behind", "not_met"))
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _get(row, name: str, default=None):
    return row.get(name, default) if isinstance(row, dict) else getattr(row, name, default)


def _day(value) -> dt.date:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.date() if isinstance(value, dt.datetime) else value


def year_range(spec: CycleSpec, ind: IndicatorSpec) -> tuple[int, int]:
    """The years an actual may be recorded for: ``base_year`` … ``target_year`` + 1 (the year after the target
    year: a 期末 figure revised, or the first figure past the period); without them, the cycle's first year − 1
    (the base year an undated indicator usually has) … its last year."""
    lo = ind.base_year if ind.base_year is not None else spec.first_day.year - 1
    hi = ind.target_year + 1 if ind.target_year is not None else spec.last_day.year
    return lo, hi


def board_years(spec: CycleSpec) -> list[int]:
    """The columns of the board: every year after a base year up to the last target year."""
    inds = spec.file.indicators
    firsts = [i.base_year + 1 for i in inds if i.base_year is not None] or [spec.first_day.year]
    lasts = [i.target_year for i in inds if i.target_year is not None] or [spec.last_day.year - 1]
    lo, hi = min(firsts), max(lasts)
    return list(range(lo, hi + 1)) if lo <= hi else []


def indicator_board(spec: CycleSpec, figures, as_of=None) -> dict:
    """Every indicator of ``spec`` with its base, target, yearly actuals and the judgement of its latest year.

    ``figures``: figure rows in the order they were recorded (``stages.views.board.RunRows.figures``: objects or dicts
    with subject, of, period, value, unit, source, by, at). Only rows recorded on or before ``as_of``'s day count
    (a bare date, like the board); for each year the latest row is the actual.

    Returns ``{cycle: {id, title}, as_of, years, indicators: [...], warnings: [...], counts}``; each indicator
    ``{id, name, category, kind, unit, measure, direction, tolerance, base, base_year, target, target_year,
    lead, source, note, actuals: [{year, value, unit, source, by, at, expected, status, label, warning}],
    other_figures: [...], judgement, warning}`` where ``judgement`` is :func:`judge` for the latest year with an
    actual (none yet: for the last year that should have one by ``as_of`` — ``no_data``), and ``warnings`` the
    judgements with ``warning`` true."""
    when = as_datetime(as_of)
    day = when.date()
    latest: dict[tuple[str, int], object] = {}
    other: dict[str, list] = {}
    for f in figures:
        subject = str(_get(f, "subject") or "")
        if not subject.startswith(SUBJECT) or _day(_get(f, "at")) > day:
            continue
        iid = subject[len(SUBJECT):]
        period = str(_get(f, "period") or "")
        if _YEAR.match(period):
            latest[(iid, int(period))] = f  # rows come in recorded order: the last one wins
        else:
            other.setdefault(iid, []).append(f)
    out_inds, warnings = [], []
    counts = {s: 0 for s in STATUS_ZH}
    for ind in spec.file.indicators:
        years = sorted(y for (iid, y) in latest if iid == ind.id)
        actuals = []
        for y in years:
            f = latest[(ind.id, y)]
            j = judge(ind, y, float(_get(f, "value")))
            actuals.append({"year": y, "value": float(_get(f, "value")), "unit": _get(f, "unit") or ind.unit,
                            "source": _get(f, "source") or ind.source, "by": _get(f, "by"),
                            "at": _iso(_get(f, "at")), "expected": j["expected"], "status": j["status"],
                            "label": j["label"], "warning": j["warning"]})
        if actuals:
            j = judge(ind, actuals[-1]["year"], actuals[-1]["value"])
        else:
            first = ind.base_year + 1 if ind.base_year is not None else spec.first_day.year
            last = ind.target_year if ind.target_year is not None else spec.last_day.year
            j = judge(ind, max(first, min(day.year - 1, last)), None)  # the last year due by as_of
        counts[j["status"]] += 1
        if j["warning"]:
            warnings.append(j)
        out_inds.append({"id": ind.id, "name": ind.name, "category": ind.category, "kind": ind.kind,
                         "unit": ind.unit, "measure": ind.measure, "direction": ind.direction,
                         "tolerance": ind.tolerance, "base": ind.base, "base_year": ind.base_year,
                         "target": ind.target, "target_year": ind.target_year, "lead": list(ind.lead),
                         "source": ind.source, "note": ind.note, "actuals": actuals,
                         "other_figures": [{"period": _get(f, "period"), "value": float(_get(f, "value")),
                                            "unit": _get(f, "unit") or ind.unit, "by": _get(f, "by"),
                                            "at": _iso(_get(f, "at"))} for f in other.get(ind.id, [])],
                         "judgement": j, "warning": j["warning"]})
    return {"cycle": {"id": spec.id, "title": spec.file.title}, "as_of": when.isoformat(),
            "years": board_years(spec), "indicators": out_inds, "warnings": warnings,
            "counts": {"indicators": len(out_inds), "by_status": counts, "warnings": len(warnings)}}


def _iso(value) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else value.isoformat()


def figure_rows(session, spec: CycleSpec) -> list:
    """The run's standing figure rows through a Session, in recorded order: ``stages.store.rows.run_rows``'s (a
    returned or superseded report's values left out)."""

    return run_rows(session, spec).figures


def warning_notice(spec: CycleSpec, ind: IndicatorSpec, year: int, value: float) -> dict | None:
    """The ``indicator_warning`` notice intent for ``value`` (``year``), or None when :func:`judge` gives no 预警:
    ``{kind, to: [the coordinator's short name], about: "indicator:<id>", indicator, name, year, actual, expected,
    unit, status, label}``. ``record`` uses it; a yearly report's figures (``deliverables.submit``) may too."""
    j = judge(ind, year, value)
    if not j["warning"]:
        return None
    return {"kind": "indicator_warning", "to": [spec.coordinator.short], "about": f"{SUBJECT}{ind.id}",
            "indicator": ind.id, "name": ind.name, "year": year, "actual": value, "expected": j["expected"],
            "unit": ind.unit, "status": j["status"], "label": j["label"]}


# -- the move -------------------------------------------------------------------------------------------------------
def record(session, spec: CycleSpec, *, indicator: str, year: int, value, by=None, as_of=None,
           source: str | None = None, key: str | None = None, flow_run_id: str | None = None):
    """Record ``indicator``'s actual for ``year`` (a figure the 统计局 publishes, outside any report).

    Who: the coordinator, or one of the indicator's lead units (an indicator without lead units: the coordinator
    only). Refused: an unknown indicator (by id or name), a year outside :func:`year_range`, a value that is not
    a finite number. Writes one Figure row (subject ``indicator:<id>``, period the year) and one audit event
    ``indicator.recorded``; the same request again (same key) changes nothing. A later value for the same year
    is a correction: a new row, which wins. A 约束性 value off its path (``judge``'s warning) puts an
    ``indicator_warning`` notice for the coordinator in the outcome."""
    ctx = _ctx(session, spec, by, as_of, flow_run_id, "record", f"{SUBJECT}{indicator}")
    try:
        ind = spec.indicator(str(indicator).strip())
    except KeyError:
        known = "、".join(i.id for i in spec.file.indicators)
        raise NotFound("engine.unknown_indicator", indicator=indicator,
                       known=known[:300] if known else Msg("engine.none")) from None
    ctx.outcome.target = f"{SUBJECT}{ind.id}"
    try:
        year = int(str(year).strip())
    except (TypeError, ValueError):
        if year == "":
            raise PlancycleError("engine.year_missing", name=ind.name) from None
        raise PlancycleError("engine.year_invalid", name=ind.name, year=year) from None
    lo, hi = year_range(spec, ind)
    if not lo <= year <= hi:
        raise PlancycleError("engine.year_outside", name=ind.name, year=year, first=lo, last=hi)
    try:
        number = float(value)
    except (TypeError, ValueError):
        if value == "":
            raise PlancycleError("engine.value_missing", name=ind.name, year=year) from None
        raise PlancycleError("engine.value_invalid", name=ind.name, year=year, value=value) from None
    if not math.isfinite(number):
        raise PlancycleError("engine.value_invalid", name=ind.name, year=year, value=value)
    source = (source or "").strip() or None
    leads = [spec.department(d).short for d in ind.lead]
    if not ctx.actor.can_coordinate and ctx.by not in leads:
        who = "、".join(leads) if leads else spec.coordinator.short
        raise Forbidden("engine.indicator_not_theirs", who=ctx.actor.label, name=ind.name, reporters=who)
    rows = session.exec(select(Figure).where(Figure.run_id == ctx.run.id, Figure.subject == f"{SUBJECT}{ind.id}",
                                             Figure.period == str(year))
                        .order_by(Figure.at.desc(), Figure.id.desc())).all()
    prior = rows[0] if rows else None
    request = {"indicator": ind.id, "year": year, "value": number, "source": source, "by": ctx.by}
    if key is None:
        # the natural key names the figure this one follows: the same request right after the row it made is a
        # double click (nothing changes); going back to an earlier value after another one is a new correction
        same = prior is not None and (prior.value, prior.source or None, prior.by) == (number, source, ctx.by)
        follows = (rows[1].id if len(rows) > 1 else 0) if same else (prior.id if prior is not None else 0)
        key = f"indicator:{ind.id}:{year}:after{follows}:{_fingerprint(request)}"
    if _replayed(ctx, key, request):
        return ctx.outcome
    session.add(Figure(run_id=ctx.run.id, subject=f"{SUBJECT}{ind.id}", of=ind.id, period=str(year), value=number,
                       unit=ind.unit, source=source, submission_id=None, by=ctx.by, at=ctx.as_of))
    j = judge(ind, year, number)
    previous = None if prior is None else {"value": prior.value, "by": prior.by, "at": prior.at.isoformat()}
    _audit(ctx, "indicator.recorded", ctx.outcome.target, why=source,
           data={"request": request, "judgement": {k: j[k] for k in ("expected", "status", "warning")},
                 **({"previous": previous} if previous else {})}, key=key)
    notice = warning_notice(spec, ind, year, number)
    if notice is not None:
        ctx.outcome.notices.append(notice)
    ctx.outcome.data = {"indicator": ind.id, "name": ind.name, "year": year, "value": number, "unit": ind.unit,
                        "source": source, "judgement": j, "previous": previous}
    ctx.outcome.message = Msg(
        "engine.indicator_recorded", name=ind.name, year=year, value=f"{number:g}", unit=ind.unit, by=ctx.by,
        label=j["label"], warning=Msg("engine.indicator_warning") if j["warning"] else "",
        replaces=Msg("engine.indicator_replaces", value=f"{prior.value:g}", unit=ind.unit) if prior is not None else "")
    return _finish(ctx)
