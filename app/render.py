"""Terminal rendering of the board (rich). Presentation only: the data comes from ``stages.views.board``."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape as _esc
from rich.table import Table

from stages.ground.i18n import Msg

LIGHT_STYLE = {"green": "green", "yellow": "yellow", "red": "bold red", "done": "dim", "dormant": "dim italic"}
LIGHT_ZH = {"green": "绿 正常", "yellow": "黄 临近", "red": "红 逾期", "done": "完成", "dormant": "未触发"}
TRACK_ZH = {"topics": "课题", "special_plans": "专项规划", "outline": "《纲要》", "tasks": "其他工作任务"}


def track_names(spec=None, data: dict | None = None) -> dict:
    """The tracks' headings: the topics' is the cycle file's own name for them (``lifecycles.topic.name``:
    前期重大课题 in Changning, 前期课题 in a file that says so), from the spec, or from the board's data when it
    carries the names; otherwise the plain word."""
    out = dict(TRACK_ZH)
    out.update((data or {}).get("track_names") or {})
    lifecycles = getattr(spec, "lifecycles", None) or {}
    if "topic" in lifecycles:
        out["topics"] = lifecycles["topic"].name
    return out
STAGE_STATUS_ZH = {"pending": "未开始", "open": "进行中", "closed": "已完成"}


def print_board(data: dict, console: Console | None = None, spec=None) -> None:
    console = console or Console()
    titles = track_names(spec, data)
    cyc = data["cycle"]
    console.print(f"[bold]{_esc(cyc['title'])}[/bold]  ({cyc['id']} v{cyc['version']})  {Msg('cli.board.as_of', date=data['as_of'][:10])}")
    for st in data["stages"]:
        gate = ""
        if st["exit_gate"]:
            gate = "  " + str(Msg("cli.board.gate_met") if st["gate_met"] else
                              Msg("cli.board.gate_open", n=len(st["gate_missing"])))
        mark = "▶ " if st["id"] == cyc["current_stage"] and cyc["status"] == "active" else "  "
        console.print(f"{mark}{_esc(st['name'])} {st['window'][0]} – {st['window'][1]}  {STAGE_STATUS_ZH[st['status']]}{gate}")
    for track in ("topics", "special_plans", "outline", "tasks"):
        rows = [i for i in data["items"] if i["track"] == track]
        if not rows:
            continue
        table = Table(title=titles[track], title_justify="left", show_lines=False, pad_edge=False)
        for col in ("item", "title", "current", "due", "owner", "light"):
            table.add_column(str(Msg(f"cli.board.col.{col}")), overflow="ellipsis", no_wrap=True,
                             max_width=24 if col == "title" else None, min_width=14 if col == "light" else None,
                             ratio=1 if col == "title" else None)
        for i in rows:
            cur = i["current"]
            light = i["light"]
            extra = " " + str(Msg("cli.board.late", n=cur["workdays_late"])) if cur and cur["workdays_late"] else ""
            table.add_row(_esc(i["key"]), _esc(i["title"]),
                          _esc(str(Msg("cli.board.current", name=cur["name"], status=cur["status_zh"]))) if cur
                          else str(Msg("cli.board.all_done")),
                          cur["due"] if cur else "", _esc(cur["owner"] if cur else "/".join(i["lead"])),
                          f"[{LIGHT_STYLE[light]}]{LIGHT_ZH[light]}{extra}[/]")
        console.print(table)
    c = data["counts"]
    counts = [Msg("cli.count", what=Msg(f"cli.light.{k}") if f"cli.light.{k}" in _codes() else k, n=v)
              for k, v in c["by_light"].items()]
    console.print(str(Msg("cli.board.legend", counts=counts,
                          lights="  ".join(f"[{LIGHT_STYLE[k]}]{LIGHT_ZH[k]}[/]" for k in LIGHT_STYLE))))


def _codes():
    from stages.ground.catalogue import CATALOGUE

    return CATALOGUE


CELL = {"planned": ("计", "cyan"), "done": ("完", "green"), "late": ("滞", "bold red"), "": ("", "")}
CELL_LEGEND = {"planned": "计 = 计划", "done": "完 = 完成", "late": "滞 = 滞后"}


def print_timeline(data: dict, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=str(Msg("cli.timeline.title", date=data["as_of"])), title_justify="left", show_lines=True)
    table.add_column("阶段", no_wrap=True)
    table.add_column("工作", min_width=16, max_width=40, overflow="fold", ratio=1)
    for q in data["quarters"]:
        table.add_column(q[2:], justify="center", no_wrap=True)
    last = None
    for row in data["rows"]:
        cells = []
        for q in data["quarters"]:
            text, style = CELL[row["cells"][q]]
            cells.append(f"[{style}]{text}[/]" if style else "")
        table.add_row(_esc(row["stage_name"]) if row["stage"] != last else "", _esc(row["text"]), *cells)
        last = row["stage"]
    console.print(table)
    console.print(str(Msg("cli.timeline.legend",
                          cells="  ".join(f"[{CELL[k][1]}]{v}[/]" for k, v in CELL_LEGEND.items()))))
