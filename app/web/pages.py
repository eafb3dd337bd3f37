"""How the console renders: the Jinja2 templates (``templates/web/``) with their filters and globals, a page with
its CSRF token, the header every page shows, and the redirect after an action with its one-line flash."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from stages.rules.identity import ROLE_NAMES
from stages.store.models import Milestone

from . import auth, words

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = ROOT / "templates" / "web"
LIGHT_ZH = {"green": "绿", "yellow": "黄", "red": "红", "done": "完成", "dormant": "未触发"}
PROGRESS_ZH = {"behind": "欠进度", "on": "达进度", "ahead": "超进度"}
REPORT_PARTS = (("progress", "本期进展"), ("problems", "存在问题"), ("next", "下步安排"))
KIND_ZH = {"topic": "前期重大课题", "special_plan": "专项规划", "outline": "《纲要》", "task": "工作任务"}
TRACK_ZH = {"topics": "前期重大课题", "special_plans": "专项规划", "outline": "《纲要》", "tasks": "工作任务"}


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(LIGHT_ZH=LIGHT_ZH, KIND_ZH=KIND_ZH, TRACK_ZH=TRACK_ZH, ROLE_NAMES=ROLE_NAMES,
                                 PROGRESS_ZH=PROGRESS_ZH, REPORT_PARTS=REPORT_PARTS)
    templates.env.filters["num"] = num
    templates.env.filters["d"] = lambda v: (v or "")[:10]
    templates.env.filters["dt"] = lambda v: (v or "")[:16].replace("T", " ")
    templates.env.filters["size"] = _size
    templates.env.filters["zh"] = lambda text, labels=None: words.translate(text or "", labels or {})
    templates.env.filters["action_zh"] = lambda a: words.ACTION_ZH.get(a, a)
    templates.env.filters["doc_html"] = _doc_html
    return templates


def page(request: Request, name: str, data: dict, status: int = 200) -> HTMLResponse:
    data = {"request": request, "csrf": auth.csrf_token(request), **data}
    return request.app.state.templates.TemplateResponse(request, name, data, status_code=status)


def common(request: Request, c, s: Session) -> dict:
    """The header's data (who, the run, the flash, the review count) for ``c``, who is signed in."""
    st = request.app.state.pc
    user, actor, run, spec = c
    flash = request.session.pop("flash", None)
    review_count = 0
    if actor.can_coordinate:
        review_count = len(s.exec(select(Milestone.id).where(Milestone.run_id == run.id,
                                                             Milestone.status == "submitted")).all())
    units = [d for d in spec.departments if d.kind in ("department", "street")]
    return {"user": user, "actor": actor, "run": run, "spec": spec, "flash": flash, "today": st.now(), "units": units,
            "review_count": review_count, "clock_fixed": st.as_of is not None}


def done(request: Request, to: str, flash: str) -> RedirectResponse:
    from stages.engine import find_run

    st = request.app.state.pc
    with Session(st.read_engine) as s:
        run = find_run(s)
        labels = words.labels_for(s, run, st.spec(run))
    request.session["flash"] = words.translate(flash, labels)[:300]
    return RedirectResponse(to, status_code=303)


async def adone(request: Request, to: str, flash: str) -> RedirectResponse:
    return await run_in_threadpool(done, request, to, flash)


def said(out: dict, default: str) -> str:
    return out.get("message") or default


def num(v) -> str:
    """26.0 → 26, 1.50 → 1.5, 1190 → 1190: a figure as a person writes it."""
    if v is None or v == "":
        return ""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else f"{f:.6f}".rstrip("0").rstrip(".")


def _doc_html(md: str):
    """A notice's Markdown preview as simple HTML: headings, bold, paragraphs, tables, rules; everything escaped."""
    import html

    from markupsafe import Markup

    out, table = [], []

    def inline(t: str) -> str:
        t = html.escape(t)
        return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)

    def flush():
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= set("-: ")]
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
            head, body = cells[0], cells[1:]
            out.append("<table class='board small'><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head)
                       + "</tr></thead><tbody>" + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>"
                                                          for r in body) + "</tbody></table>")
            table.clear()

    for line in md.splitlines():
        if line.lstrip().startswith("|"):
            table.append(line)
            continue
        flush()
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            level = min(len(stripped) - len(stripped.lstrip("#")), 3)
            out.append(f"<h{level + 1} class='doc-h'>{inline(stripped.lstrip('#').strip())}</h{level + 1}>")
        elif set(stripped) <= set("-*_ "):
            out.append("<hr>")
        else:
            out.append(f"<p>{inline(stripped)}</p>")
    flush()
    return Markup("\n".join(out))


def _size(n) -> str:
    n = int(n or 0)
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{max(1, n // 1024)} KB"
