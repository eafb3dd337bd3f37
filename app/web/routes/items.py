"""One item (``/items/{key}``): its milestones, submissions, figures and audit; submitting a milestone (files,
figures, a periodic report), reviewing it, waking an optional one; and a submission's files (``/files/…``)."""

from __future__ import annotations

import datetime as dt
import urllib.parse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from stages.ground.errors import NotFound, PlancycleError, TransitionError
from stages.rules.identity import Forbidden
from stages.store.models import Item, Milestone, Submission

from .. import words
from ..deps import Acting, CheckedForm, ReadSession, SignedIn, aact, acting, ctx
from ..helpers import disposition, item_title, ms_spec
from ..pages import REPORT_PARTS, adone, common, num, page, said
from ..state import FigureRefused, PageError

router = APIRouter()


def item_data(st, s, actor, run, spec, key):
    from stages.store.models import Figure
    from stages.views.board import board
    from stages.views.reads import check_visible, item_history

    check_visible(s, spec, actor, key)
    data = item_history(s, spec, key)
    lights = {}
    for it in board(s, spec, st.now())["items"]:
        if it["key"] == key:
            lights = {m["id"]: m for m in it["milestones"]}
            data["item"].update({k: it[k] for k in ("domain", "part_of", "progress", "progress_zh") if k in it})
    row = s.exec(select(Item).where(Item.run_id == run.id, Item.key == key)).first()
    today = st.now().date().isoformat()
    for m in data["milestones"]:
        b = lights.get(m["id"], {})
        m.update(light=b.get("light"), workdays_late=b.get("workdays_late"), status_zh=b.get("status_zh"))
        for k in ("targets", "progress", "progress_zh"):
            if k in b:
                m[k] = b[k]
        mspec = ms_spec(spec, row.kind, key, m["id"])
        m["optional"] = bool(mspec and mspec.optional)
        m["condition"] = mspec.condition if mspec else None
        m["report"] = bool(mspec and mspec.period)  # a periodic report: 进展 / 问题 / 下步 and its figures
        m["can_submit"] = m["status"] in ("open", "returned") and (
            actor.can_coordinate or actor.dept == m["owner"] or actor.dept in data["item"]["lead"])
        m["can_review"] = m["status"] == "submitted" and (actor.can_coordinate or (
            spec.file.lead_may_review and actor.dept in data["item"]["lead"]))
        m["can_trigger"] = m["status"] == "dormant" and actor.can_coordinate
        m["due_passed"] = m["due"] < today
        if m["can_submit"] and mspec is not None:
            m["figure_fields"] = _figure_fields(spec, row, mspec, m["due"])
    subs = s.exec(select(Submission).join(Milestone, Milestone.id == Submission.milestone_id)
                  .where(Milestone.item_key == key, Milestone.run_id == run.id)
                  .order_by(Submission.submitted_at, Submission.id)).all()
    if not actor.reads_all:
        data["audit"] = []  # the audit trail is the planning office's and the leaders'
    figures: dict[int, list] = {}
    if subs:
        for f in s.exec(select(Figure).where(Figure.submission_id.in_([x.id for x in subs]))
                        .order_by(Figure.id)).all():
            task, _, name = f.of.rpartition(":")  # a report's figure for one of its unit's tasks: t02:重点项目落地
            title = item_title(spec, task) if task else None
            figures.setdefault(f.submission_id, []).append(
                {"of": f"{title}·{name}" if title else words.figure_name(f.of), "value": f.value, "unit": f.unit,
                 "period": f.period, "source": f.source})
    for out, sub in zip(data["submissions"], subs):
        out["id"] = sub.id
        out["report"] = sub.report or None
        out["figures"] = figures.get(sub.id, [])
        for i, f in enumerate(out["files"]):
            f["url"] = f"/files/{sub.id}/{i}"
            f.pop("path", None)
    return data


def render_item(request: Request, c, s, key: str, refused: dict | None = None, status: int = 200):
    """The item page; ``refused``: a submission refused (its milestone, the message, what was typed, kept)."""
    st = request.app.state.pc
    data = item_data(st, s, c.actor, c.run, c.spec, key)
    if refused:
        refused["message"] = words.translate(refused["message"], words.labels_for(s, c.run, c.spec))
    return page(request, "item.html", {**common(request, c, s), "d": data,
                                       "max_mb": st.store.max_bytes // (1024 * 1024),
                                       "types": st.store.allowed, "refused": refused}, status=status)


def item_view(request: Request, key: str, refused: dict | None = None, status: int = 200):
    """The item page again after a refused submission, read in a session of its own."""
    with Session(request.app.state.pc.read_engine) as s:
        return render_item(request, ctx(request, s), s, key, refused, status)


@router.get("/items/{key}", response_class=HTMLResponse)
def item_page(request: Request, c: SignedIn, s: ReadSession, key: str):
    return render_item(request, c, s, key)


@router.get("/api/items/{key}")
def api_item(request: Request, c: SignedIn, s: ReadSession, key: str):
    return item_data(request.app.state.pc, s, c.actor, c.run, c.spec, key)


@router.get("/files/{sub_id}/{index}")
def download(request: Request, c: SignedIn, s: ReadSession, sub_id: int, index: int):
    from stages.store.files import MIME
    from stages.views.reads import check_visible

    st = request.app.state.pc
    sub = s.get(Submission, sub_id)
    m = s.get(Milestone, sub.milestone_id) if sub else None
    if sub is None or m is None or m.run_id != c.run.id or not 0 <= index < len(sub.files):
        raise PageError(404, "文件不存在")
    check_visible(s, c.spec, c.actor, m.item_key)
    f = sub.files[index]
    if not f.get("sha256") or not st.store.has(f["sha256"]):
        raise PageError(404, "该文件未存档（早于附件存档功能的记录）")
    name = f.get("name") or "附件"
    return Response(st.store.read(f["sha256"]), media_type=MIME.get(f.get("type") or "", "application/octet-stream"),
                    headers={"Content-Disposition": disposition(name), "X-Content-Type-Options": "nosniff"})


# -- submit, review, trigger ----------------------------------------------------------------------------------------
def _visible(st, key: str, actor, spec) -> None:
    from stages.views.reads import check_visible

    with Session(st.read_engine) as s:
        check_visible(s, spec, actor, key)


def _units_of(st, key: str, ms: str, spec) -> dict[str, str]:
    """The figures the milestone may carry, by the names the form sends, with their units."""
    from stages.engine import figure_subjects, find_run

    with Session(st.read_engine) as s:
        run = find_run(s)
        row = s.exec(select(Item).where(Item.run_id == run.id, Item.key == key)).first()
        mrow = row and s.exec(select(Milestone).where(Milestone.item_id == row.id, Milestone.ms_id == ms)).first()
        mspec = ms_spec(spec, row.kind, key, mrow.ms_id) if mrow else None
        return {k: v.get("unit") or "" for k, v in figure_subjects(spec, row, mspec).items()} if mspec else {}


async def do_submit(request: Request, key: str, ms: str, form, c) -> dict:
    st, actor, spec = request.app.state.pc, c.actor, c.spec
    await run_in_threadpool(_visible, st, key, actor, spec)  # nothing is stored for an item one cannot see
    units = await run_in_threadpool(_units_of, st, key, ms, spec)
    figures = _form_figures(form, units)  # a bad number is refused before anything is stored
    report = {part: str(form.get(f"report_{part}") or "").strip() for part, _zh in REPORT_PARTS}
    report = {k: v for k, v in report.items() if v} or None
    uploads = [f for f in form.getlist("files") if getattr(f, "filename", None)]
    if len(uploads) > 20:
        raise PageError(400, "一次最多上传 20 个文件")
    stored = []
    for up in uploads:
        stored.append(await run_in_threadpool(st.store.put, up.filename, up.file))
    return await aact(request, "submit_deliverable", "SubmitRequest", item=key, milestone=ms, by=actor.dept,
                      actor=actor, files=stored, note=(form.get("note") or None), figures=figures, report=report)


@router.post("/items/{key}/milestones/{ms}/submit")
async def submit(request: Request, form: CheckedForm, c: Acting, key: str, ms: str):
    try:
        out = await do_submit(request, key, ms, form, c)
    except (Forbidden, NotFound):
        raise
    except PlancycleError as exc:  # the page again, the message at the form, what was typed kept
        typed = {k: str(v) for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}
        had_files = any(getattr(f, "filename", None) for f in form.getlist("files"))
        return await run_in_threadpool(item_view, request, key, {"ms": ms, "message": str(exc), "values": typed,
                                                                 "had_files": had_files,
                                                                 "field": getattr(exc, "field", None)},
                                       409 if isinstance(exc, TransitionError) else 400)
    return await adone(request, f"/items/{urllib.parse.quote(key)}", said(out, "已报送"))


@router.post("/api/items/{key}/milestones/{ms}/submit")
async def api_submit(request: Request, form: CheckedForm, c: Acting, key: str, ms: str):
    return await do_submit(request, key, ms, form, c)


async def do_review(request: Request, key: str, ms: str, form) -> dict:
    decision = form.get("decision")
    if decision not in ("accept", "return"):
        raise PageError(400, "请选择“通过”或“退回”")
    actor = (await run_in_threadpool(acting, request)).actor  # only once the decision is known to be one
    return await aact(request, "review_deliverable", "ReviewRequest", item=key, milestone=ms, decision=decision,
                      by=actor.dept, actor=actor, comments=(form.get("comments") or None))


@router.post("/items/{key}/milestones/{ms}/review")
async def review(request: Request, form: CheckedForm, key: str, ms: str):
    back = form.get("back") if form.get("back") in ("/review",) else f"/items/{urllib.parse.quote(key)}"
    if form.get("decision") == "return" and not str(form.get("comments") or "").strip():
        request.session["flash"] = "退回须填写修改意见，请填写后再点“退回修改”"
        return RedirectResponse(back + f"#ms-{ms}", status_code=303)
    out = await do_review(request, key, ms, form)
    return await adone(request, back, said(out, "已审核"))


@router.post("/api/items/{key}/milestones/{ms}/review")
async def api_review(request: Request, form: CheckedForm, key: str, ms: str):
    return await do_review(request, key, ms, form)


async def do_trigger(request: Request, key: str, ms: str, form, c) -> dict:
    """An optional milestone woken (修改调整 after all): the services decide who may (the coordinator)."""
    actor = c.actor
    due = (form.get("due") or "").strip()
    if due:
        try:
            due = dt.date.fromisoformat(due)
        except ValueError:
            raise PageError(400, "新期限格式不正确（应为 YYYY-MM-DD）") from None
    return await aact(request, "trigger_milestone", "TriggerRequest", item=key, milestone=ms,
                      reason=str(form.get("reason") or ""), due=due or None, actor=actor, by=actor.dept)


@router.post("/items/{key}/milestones/{ms}/trigger")
async def trigger(request: Request, form: CheckedForm, c: Acting, key: str, ms: str):
    out = await do_trigger(request, key, ms, form, c)
    return await adone(request, f"/items/{urllib.parse.quote(key)}#ms-{ms}", said(out, "已触发"))


@router.post("/api/items/{key}/milestones/{ms}/trigger")
async def api_trigger(request: Request, form: CheckedForm, c: Acting, key: str, ms: str):
    return await do_trigger(request, key, ms, form, c)


# -- a submission's figures -----------------------------------------------------------------------------------------
def _target_text(t) -> str:
    """目标 25% / 目标不高于 0.5%: a target as the form's label says it."""
    return f"目标{'不高于' if t.direction == 'down' else ''} {num(t.value)}{t.unit or ''}"


def _figure_fields(spec, row, mspec, due: str) -> list[dict]:
    """The number fields of a submission form: a milestone's own targets, one each; a periodic report's, every
    target of the tasks its unit leads (the one due next after the report, year to date) and the indicators it
    reports. Only names :func:`stages.engine.figure_subjects` accepts are offered."""
    from stages.engine import figure_subjects

    known = figure_subjects(spec, row, mspec)
    out: list[dict] = []
    for t in mspec.targets:
        name = t.of or ""
        if name in known:
            out.append({"name": name, "label": t.of or "完成值", "target": _target_text(t), "unit": t.unit or "",
                        "group": None})
    if not mspec.period:
        return out
    units = set(row.lead)
    for other in spec.items:
        if other.kind != "task" or not units & set(other.lead):
            continue
        pairs: dict[str, list] = {}
        for m in other.milestones:
            for t in m.targets:
                if t.of and f"{other.key}:{t.of}" in known:
                    pairs.setdefault(t.of, []).append((m, t))
        for of, ms in pairs.items():
            m, t = next(((m, t) for m, t in ms if m.due_date and m.due_date.isoformat() >= due), ms[-1])
            stated = _target_text(t)  # 一季度目标 78家 (a name that already says 目标), else 第一阶段·目标 78家
            stated = m.name + stated[2:] if m.name.endswith("目标") else f"{m.name}·{stated}"
            out.append({"name": f"{other.key}:{of}", "label": of, "target": stated,
                        "unit": t.unit or "", "group": other.title})
    names = {ind.id: ind for ind in spec.file.indicators}
    for k, e in known.items():
        if e.get("kind") == "indicator" and k == e["of"] and k in names:
            out.append({"name": k, "label": names[k].name, "target": "", "unit": e.get("unit") or "",
                        "group": "监测指标"})
    return out


def _form_figures(form, units: dict[str, str]) -> list[dict]:
    """The ``fig:NAME`` fields a person filled in, as figures; an empty field reports nothing. A number is read
    as the CLI and the indicator form read it (``stages.rules.requests.parse_number``): its own unit may follow (26.3%,
    80家), full-width digits and thousands commas (1,190) are fine; anything else is refused with the services'
    own message, before anything is stored."""
    from stages.rules.requests import parse_number

    out = []
    for k, v in form.multi_items():
        if not k.startswith("fig:") or not isinstance(v, str):
            continue
        of, raw = k[4:], v.strip()
        if not raw:
            continue
        unit = units.get(of, "")
        try:
            value = parse_number(raw, unit)[0]
        except ValueError:
            raise FigureRefused(f"figure {of!r}: {raw!r} is not a number", field=k) from None
        out.append({"of": of, "value": value, "unit": unit or None})
    return out
