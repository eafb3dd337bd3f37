"""Small readings of a cycle's spec and of a download's name that several of the console's areas share."""

from __future__ import annotations

import urllib.parse

from .pages import TRACK_ZH


def ms_spec(spec, kind: str, key: str, ms_id: str, attr: str | None = None):
    try:
        m = spec.milestone_spec(kind, key, ms_id)
    except KeyError:
        return None
    return getattr(m, attr) if attr else m


def item_title(spec, key: str) -> str | None:
    try:
        return spec.item(key).title
    except KeyError:
        return None


def checklist(spec, gate, facts) -> list[dict]:
    """A gate as a checklist: each of its parts, met or not, with what is missing."""
    from stages.rules.gates import _eval, evaluate

    parts = []
    children = gate.all_of or gate.any_of
    if children:
        for ch in children:
            gid = ch if isinstance(ch, str) else None
            res = evaluate(spec, gid, facts) if gid else _eval(spec, ch, facts, ())
            parts.append({"name": spec.gate(gid).name if gid else _pred_name(ch), "ok": res.ok,
                          "missing": list(res.missing)[:8]})
    else:
        res = evaluate(spec, gate.id, facts)
        parts.append({"name": gate.name, "ok": res.ok, "missing": list(res.missing)[:8]})
    return parts


def _pred_name(p) -> str:
    if p.milestone:
        return p.milestone
    if p.all:
        return f"全部{TRACK_ZH.get(p.all.track, p.all.track)}完成 {p.all.milestone}"
    if p.at_least:
        return f"至少 {p.at_least.n} 项{TRACK_ZH.get(p.at_least.track, p.at_least.track)}完成 {p.at_least.milestone}"
    if p.approval:
        return f"{p.approval.body} 审议 {p.approval.subject}"
    return "组合条件"


def disposition(name: str) -> str:
    ascii_name = "".join(c if c.isascii() and c.isalnum() or c in "._-" else "_" for c in name) or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(name)}"
