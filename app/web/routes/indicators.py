"""The 纲要's 主要指标 (schema 2 indicators, ``/indicators``): each indicator's path, actuals and judgement, filtered
by 类别 and 只看预警; and a yearly actual recorded by the coordinator or the indicator's lead unit."""

from __future__ import annotations

import unicodedata
import urllib.parse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from stages.ground.errors import NotFound, PlancycleError, TransitionError
from stages.rules.identity import Forbidden

from .. import words
from ..deps import CheckedForm, ReadSession, SignedIn, aact, acting, ctx
from ..pages import adone, common, page, said
from ..state import FigureRefused, PageError

router = APIRouter()


def indicators_data(st, s, actor, run, spec, category: str = "", warn: bool = False) -> dict:
    """``stages.engine.indicators.indicator_board`` as of the console's day, filtered by 类别 and 只看预警, with what the
    page needs besides: the years to show, the shared note, the counts over what is shown, who may record."""
    from stages.engine.indicators import figure_rows, indicator_board

    if not spec.file.indicators:
        raise PageError(404, "本周期没有监测指标")
    data = indicator_board(spec, figure_rows(s, spec), st.now())
    categories = list(dict.fromkeys(i["category"] for i in data["indicators"] if i["category"]))
    if category and category not in categories:
        raise PageError(400, f"未知类别：{category}")
    rows = [i for i in data["indicators"] if (not category or i["category"] == category)
            and (i["warning"] or not warn)]
    shown = {i["id"] for i in rows}
    may = set(_recordable(spec, actor))
    for i in rows:
        i["can_record"] = i["id"] in may
    by_status = {k: 0 for k in data["counts"]["by_status"]}
    for i in rows:
        by_status[i["judgement"]["status"]] += 1
    # the years up to now: a year after the last one due by the console's day has no figure yet
    last = max([st.now().year - 1] + [a["year"] for i in rows for a in i["actuals"]])
    note, extras = _shared_note([(i["id"], i["note"]) for i in data["indicators"]])
    for i in rows:
        i["note_extra"] = extras.get(i["id"])
        i["note_shared"] = bool(note and (i["note"] or "").startswith(note))
    data.update(indicators=rows, warnings=[w for w in data["warnings"] if w["indicator"] in shown],
                counts={"indicators": len(rows), "by_status": by_status,
                        "warnings": sum(1 for i in rows if i["warning"]), "all": data["counts"]["indicators"]},
                years_shown=[y for y in data["years"] if y <= last], categories=categories,
                filters={"category": category or None, "warnings_only": warn}, note=note,
                note_all=bool(note) and all((i.note or "").startswith(note) for i in spec.file.indicators),
                recordable=sorted(may, key=[i.id for i in spec.file.indicators].index))
    return data


def render_indicators(request: Request, c, s, category: str = "", warn: bool = False, pick: str = "",
                      refused: dict | None = None, status: int = 200):
    from stages.engine.indicators import STATUS_ZH, year_range

    st = request.app.state.pc
    spec = c.spec
    data = indicators_data(st, s, c.actor, c.run, spec, category, warn)
    years = [year_range(spec, spec.indicator(i)) for i in data["recordable"]]
    if refused:
        refused["message"] = words.translate(refused["message"], words.labels_for(s, c.run, spec))
    return page(request, "indicators.html", {
        **common(request, c, s), "x": data, "STATUS_ZH": STATUS_ZH,
        "f": {"category": category, "warn": warn}, "pick": pick if pick in data["recordable"] else "",
        "year_span": (min(y[0] for y in years), max(y[1] for y in years)) if years else None,
        "default_year": st.now().year - 1, "refused": refused,
        "by_id": {i.id: i for i in spec.file.indicators}}, status=status)


def indicators_view(request: Request, category: str, warn: bool, pick: str, refused: dict, status: int):
    """The page again after a refused figure, read in a session of its own."""
    with Session(request.app.state.pc.read_engine) as s:
        return render_indicators(request, ctx(request, s), s, category, warn, pick, refused, status)


@router.get("/indicators", response_class=HTMLResponse)
def indicators_page(request: Request, c: SignedIn, s: ReadSession, category: str = "", warn: bool = False,
                    record: str = ""):
    return render_indicators(request, c, s, category, warn, record)


@router.get("/api/indicators")
def api_indicators(request: Request, c: SignedIn, s: ReadSession, category: str = "", warn: bool = False):
    return indicators_data(request.app.state.pc, s, c.actor, c.run, c.spec, category, warn)


async def do_record_indicator(request: Request, form) -> dict:
    """A yearly actual, recorded through the ``record_indicator`` action flow as the signed-in user. What the
    request model types strictly (a known indicator, a whole year in the indicator's years, a number) is
    checked here first, in the service's own words; who may record it (the coordinator or the indicator's lead
    unit) is the service's to decide. A refusal writes nothing."""
    from stages.engine.indicators import year_range
    from stages.rules.requests import parse_number

    # read here, not as a dependency: a refusal in reading who acts is shown at the form like any other
    _user, actor, run, spec = await run_in_threadpool(acting, request)
    if not spec.file.indicators:
        raise PageError(404, "本周期没有监测指标")
    indicator = str(form.get("indicator") or "").strip()
    try:
        ind = spec.indicator(indicator)
    except KeyError:
        names = "、".join(i.id for i in spec.file.indicators)
        raise FigureRefused(f"unknown indicator {indicator!r} (this cycle's indicators: {names[:300]})",
                            "indicator") from None
    raw_year = str(form.get("year") or "").strip()
    try:
        year = int(unicodedata.normalize("NFKC", raw_year))
    except ValueError:
        raise FigureRefused(f"{ind.name}: the year {raw_year!r} is not a year (expected e.g. "
                            f"{year_range(spec, ind)[0] + 1})", "year") from None
    lo, hi = year_range(spec, ind)
    if not lo <= year <= hi:
        raise FigureRefused(f"{ind.name}: {year} is outside its years {lo}–{hi}", "year")
    try:  # 6.5, 6.5%, ６.５, 1,190: the one parser every figure goes through
        value = parse_number(str(form.get("value") or ""), ind.unit)[0]
    except ValueError as exc:
        raise FigureRefused(f"{ind.name} {year}: {exc}", "value") from None
    source = str(form.get("source") or "").strip() or None
    return await aact(request, "record_indicator", "IndicatorRequest", indicator=ind.id, year=year, value=value,
                      source=source, actor=actor, by=actor.dept)


@router.post("/indicators/record")
async def record_indicator(request: Request, form: CheckedForm):
    category, warn = str(form.get("category") or ""), form.get("warn") == "true"
    try:
        out = await do_record_indicator(request, form)
    except (PlancycleError, PageError) as exc:  # the page again, the one line at the form, what was typed kept
        status = getattr(exc, "status", None) or (
            403 if isinstance(exc, Forbidden) else 404 if isinstance(exc, NotFound)
            else 409 if isinstance(exc, TransitionError) else 400)
        typed = {k: str(v) for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}
        return await run_in_threadpool(indicators_view, request, category, warn, typed.get("indicator", ""),
                                       {"message": getattr(exc, "message", None) or str(exc), "typed": typed,
                                        "field": getattr(exc, "field", None)},
                                       status)
    ind = (out.get("data") or {}).get("indicator") or ""
    back = "/indicators" + ("?" + urllib.parse.urlencode({k: v for k, v in (("category", category),
                                                                             ("warn", "true" if warn else ""))
                                                           if v}) if category or warn else "")
    return await adone(request, back + (f"#ind-{ind}" if ind else ""), said(out, "已录入"))


@router.post("/api/indicators/record")
async def api_record_indicator(request: Request, form: CheckedForm):
    return await do_record_indicator(request, form)


def _recordable(spec, actor) -> list[str]:
    """The indicators ``actor`` may record a yearly actual for (``stages.engine.indicators.record``'s rule): all of them
    for the coordinator, those it leads for a unit, none for a leader."""
    if actor.role == "leader":
        return []
    out = []
    for ind in spec.file.indicators:
        leads = []
        for d in ind.lead:
            try:
                leads.append(spec.department(d).short)
            except KeyError:
                leads.append(d)
        if actor.can_coordinate or (actor.dept and actor.dept in leads):
            out.append(ind.id)
    return out


def _shared_note(notes: list[tuple[str, str | None]]) -> tuple[str | None, dict[str, str]]:
    """The note the indicators share (示例值……: shown once, under the table) and what one adds to it, by id
    (``…为准（完成市下达目标）`` → 完成市下达目标); an indicator whose note shares nothing keeps all of it."""
    given = [n for _id, n in notes if n]
    if not given:
        return None, {}
    shared = given[0]
    for n in given[1:]:
        while not n.startswith(shared):
            shared = shared[:-1]
    shared = shared.rstrip("（(，,、；; ")
    if len(shared) < 4 or len(given) < 2:
        shared = ""
    extras = {}
    for iid, n in notes:
        rest = (n or "")[len(shared):] if shared else (n or "")
        rest = rest.strip().strip("，,、；; ")
        if rest.startswith(("（", "(")) and rest.endswith(("）", ")")):
            rest = rest[1:-1].strip()
        if rest:
            extras[iid] = rest
    return shared or None, extras
