"""``plancycle indicators`` and ``plancycle indicator record``: the 纲要's 主要指标, their yearly actuals and the 预警.

    plancycle indicators [--json] [--as-of DAY] [--warnings]
    plancycle indicator record ID YEAR VALUE [--source TEXT] [--by UNIT] [--as-of WHEN] [--key KEY] [--json]

``indicators`` prints one row per indicator of the run's cycle: 指标, 属性 (约束性/预期性), 单位, 基期值, 目标值, each
year's actual, 判断 (the latest year's judgement, ``stages.engine.indicators.judge``) and 预警; ``--warnings`` keeps only
the indicators with a 预警. It reads the run's figure rows with the standard library's sqlite3 on a plain SQLite
file (``stages.store.sqlite_rows``, as the fast read path does) and through a Session otherwise; it never imports
Prefect. ``indicator record`` records a yearly actual (``stages.engine.indicators.record``): the coordinator, or with
``--by`` one of the indicator's lead units; VALUE is a number, optionally followed by the indicator's unit
(``6.5%``). It runs as the ``record-indicator`` flow (or its same steps in this process without a Prefect API),
in one transaction with its paperwork (an ``indicator_warning`` record for
the coordinator when a 约束性 value is off track).

``--json`` (stable field names):

* ``indicators``: ``{cycle: {id, title}, as_of, years: [int], counts: {indicators, by_status: {status: n},
  warnings}, indicators: [...], warnings: [judgement, ...]}``; each indicator ``{id, name, category, kind,
  unit, measure, direction, tolerance, base, base_year, target, target_year, lead: [unit], source, note,
  actuals: [{year, value, unit, source, by, at, expected, status, label, warning}], other_figures: [{period,
  value, unit, by, at}], judgement, warning}``; a judgement ``{indicator, name, kind, unit, year, actual,
  expected, gap, status, label, warning}``, ``status`` one of on_track, behind, ahead, met, not_met, no_data,
  no_target. With ``--warnings`` the ``indicators`` list holds only those with ``warning`` true.
* ``indicator record``: the move's outcome ``{action, target, changed, message, opened, completed,
  gates_ready, stages, notices, audit_ids, data}``, ``data`` being ``{indicator, name, year, value, unit,
  source, judgement, previous, drafts}`` (``previous``: the value it replaces for that year, or null).

"""

from __future__ import annotations

from typing import Optional

import typer

from app.cli.acting import _prepare, _report
from app.cli.common import H, State, _common, _engine, _request
from app.lines import print_json
from app.readcache import check_schema, connect, load_spec, sqlite_file
from stages.ground.errors import PlancycleError

commands = typer.Typer()

indicator_app = typer.Typer(help=H("cli.help.indicator_app"), no_args_is_help=True)

MARK_ZH = {"on_track": "", "ahead": "↑", "behind": "↓", "met": "✓", "not_met": "✗", "no_data": "", "no_target": ""}


def _cycle() -> str | None:
    return State.cycle


def _when(value: Optional[str], flag: str = "--as-of"):
    """A date or time option, checked here so a bad one is one line."""
    if value is None:
        return None
    from pydantic import ValidationError
    from pydantic_core import PydanticCustomError

    from stages.rules.requests import first_error, parse_when

    try:
        return parse_when(flag.lstrip("-").replace("-", "_"), value)
    except ValidationError as exc:
        raise PlancycleError(first_error(exc)) from None
    except PydanticCustomError as exc:
        raise PlancycleError(str(exc)) from None


# -- reading ---------------------------------------------------------------------------------------------------------
def _rows_fast():
    """(spec, figure rows) through sqlite3 on a plain SQLite file; raises when that path is not for it."""
    from stages.store import sqlite_rows

    path = sqlite_file(State.db)
    con = connect(path)
    try:
        check_schema(con)
        runs = sqlite_rows.runs(con)
        if _cycle():
            runs = [r for r in runs if r.spec_id == _cycle()]
        if len(runs) != 1:
            raise LookupError("no run or several")
        spec = load_spec(runs[0].spec_path)
        return spec, sqlite_rows.run_rows(con, spec.id).figures
    finally:
        con.close()


def _rows_session():
    from sqlmodel import Session

    from stages.engine.indicators import figure_rows
    from stages.store.runs import find_run

    with Session(_engine()) as session:
        run = find_run(session, _cycle())
        spec = load_spec(run.spec_path)
        return spec, figure_rows(session, spec)


def read(as_of=None) -> dict:
    """The indicator board of the run in the CLI's database (the fast sqlite3 path first, else a Session)."""
    from stages.engine.indicators import indicator_board

    try:
        spec, figures = _rows_fast()
    except Exception:  # noqa: BLE001 - not a plain SQLite file, another schema …: the Session path says what is wrong
        spec, figures = _rows_session()
    if not spec.file.indicators:
        raise PlancycleError(f"{spec.id} has no indicators (its cycle file lists none under indicators:)")
    return indicator_board(spec, figures, as_of)


def _num(x) -> str:
    if x is None:
        return ""
    return f"{x:g}" if isinstance(x, float) else str(x)


def print_indicators(data: dict, console=None, *, warnings_only: bool = False) -> None:
    """The indicator board as a table: 指标, 属性, 单位, 基期值, 目标值, each year's actual, 判断, 预警."""
    from rich import box
    from rich.console import Console
    from rich.markup import escape as esc
    from rich.table import Table

    from stages.engine.indicators import WARNING_ZH

    console = console or Console()
    rows = [i for i in data["indicators"] if i["warning"] or not warnings_only]
    table = Table(title=f"{esc(data['cycle']['title'])}  主要指标  as of {data['as_of'][:10]}", title_justify="left",
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    base_years = {i["base_year"] for i in rows if i["base"] is not None}
    target_years = {i["target_year"] for i in rows if i["target"] is not None}
    one_base = base_years.pop() if len(base_years) == 1 else None  # one year for all: in the header, not each cell
    one_target = target_years.pop() if len(target_years) == 1 else None
    # the years up to now: a year after the last one due by as_of has no figure yet (unless one was recorded)
    last = max([int(data["as_of"][:4]) - 1] + [a["year"] for i in rows for a in i["actuals"]])
    years = [y for y in data["years"] if y <= last]
    table.add_column("指标", overflow="fold", min_width=10, ratio=1)
    table.add_column("属性", no_wrap=True)
    table.add_column("单位", overflow="fold", max_width=6)
    table.add_column(f"基期值\n{one_base}" if one_base else "基期值", justify="right", overflow="fold", min_width=6)
    table.add_column(f"目标值\n{one_target}" if one_target else "目标值", justify="right", overflow="fold", min_width=6)
    for y in years:
        table.add_column(str(y), justify="right", no_wrap=True)
    table.add_column("判断", overflow="fold", min_width=6)
    table.add_column(WARNING_ZH, no_wrap=True)
    for i in rows:
        by_year = {a["year"]: a for a in i["actuals"]}
        cells = []
        for y in years:
            a = by_year.get(y)
            if a is None:
                cells.append("")
                continue
            text = _num(a["value"]) + MARK_ZH.get(a["status"], "")
            cells.append(f"[bold red]{text}[/]" if a["warning"] else text)
        j = i["judgement"]
        base = "" if i["base"] is None else _num(i["base"]) + ("" if one_base else f"（{i['base_year']}）")
        target = "" if i["target"] is None else _num(i["target"]) + ("" if one_target else f"（{i['target_year']}）")
        table.add_row(esc(i["name"]), i["kind"], esc(i["unit"] or ""), base, target, *cells, j["label"],
                      f"[bold red]{WARNING_ZH}[/]" if i["warning"] else "")
    console.print(table)
    c = data["counts"]
    shown = "  ".join(f"{label} {c['by_status'][k]}" for k, label in _labels().items() if c["by_status"].get(k))
    console.print(f"{c['indicators']} 项指标：{shown}；{WARNING_ZH} {c['warnings']} 项"
                  "    ↑ 好于预期  ↓ 滞后于预期  ✓ 已完成  ✗ 未完成（红色：约束性指标预警）")
    for w in data["warnings"]:
        console.print(f"[bold red]{WARNING_ZH}[/] {esc(w['name'])} {w['year']}：{_num(w['actual'])}{esc(w['unit'])}，"
                      f"预期 {_num(w['expected'])}{esc(w['unit'])}，{w['label']}")
    notes = sorted({i["note"] for i in rows if i["note"]})
    for n in notes:
        console.print(f"注：{esc(n)}", style="dim")


def _labels() -> dict:
    from stages.engine.indicators import STATUS_ZH

    return STATUS_ZH


@commands.command("indicators", help=H("cli.help.cmd_indicators"))
def indicators_cmd(as_json: bool = typer.Option(False, "--json", help=H("cli.help.indicators_cmd_json")),
                   as_of: Optional[str] = typer.Option(None, "--as-of", help=H("cli.help.indicators_cmd_as_of")),
                   warnings: bool = typer.Option(False, "--warnings", help=H("cli.help.indicators_cmd_warnings"))):
    """The 纲要's 主要指标: base, target, each year's actual, the latest judgement and the 预警."""
    _when(as_of)
    data = read(as_of)
    if warnings:
        data = {**data, "indicators": [i for i in data["indicators"] if i["warning"]]}
    if as_json:
        print_json(data)
        return
    print_indicators(data, warnings_only=warnings)


# -- recording ---------------------------------------------------------------------------------------------------------
def _value(text: str, ind) -> float:
    """``6.5``, ``6.5%`` (the indicator's unit may follow the number), ``-3`` (``stages.rules.requests.parse_number``)."""
    from stages.rules.requests import parse_number

    try:
        return parse_number(text, ind.unit)[0]
    except ValueError as exc:
        raise PlancycleError(f"{ind.name}: {exc}") from None


@indicator_app.command("record", context_settings={"ignore_unknown_options": True}, help=H("cli.help.cmd_record"))  # VALUE may be -0.8
def record_cmd(indicator: str = typer.Argument(..., help=H("cli.help.record_cmd_arg")),
               year: int = typer.Argument(..., help=H("cli.help.record_cmd_arg_2")),
               value: str = typer.Argument(..., help=H("cli.help.record_cmd_arg_3")),
               source: Optional[str] = typer.Option(None, "--source", help=H("cli.help.record_cmd_source")),
               by: Optional[str] = typer.Option(None, "--by", help=H("cli.help.record_cmd_by")),
               as_of: Optional[str] = typer.Option(None, "--as-of", help=H("cli.help.record_cmd_as_of")),
               key: Optional[str] = typer.Option(None, "--key", help=H("cli.help.record_cmd_key")),
               as_json: bool = typer.Option(False, "--json")):
    """Record an indicator's yearly actual (the coordinator, or --by one of its lead units)."""
    from sqlmodel import Session

    from flows.actions import ACTIONS
    from flows.runner import run_action
    from stages.rules.requests import IndicatorRequest
    from stages.store.runs import find_run

    _when(as_of)  # a bad date is one line before anything else
    for text, what in ((source, "--source"), (by, "--by"), (key, "--key"), (indicator, "INDICATOR")):
        if text is not None and any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in text):
            raise PlancycleError(f"{what} has a control character or is not valid UTF-8")
    with Session(_engine()) as session:
        spec = load_spec(find_run(session, _cycle()).spec_path)
    try:
        ind = spec.indicator(indicator.strip())
    except KeyError:
        names = "、".join(i.id for i in spec.file.indicators) or "none: this cycle has no indicators"
        raise PlancycleError(f"unknown indicator {indicator!r} (this cycle's: {names[:300]})") from None
    req = _request(IndicatorRequest, indicator=ind.id, year=year, value=_value(value, ind), source=source, by=by,
                   **_common(as_of, key))
    _prepare(req, depts=[req.by] if req.by else [])
    out = run_action(ACTIONS["record_indicator"], req)  # its flow (a Prefect API is there) or the same steps here
    if as_json:
        print_json(out)
        return
    _report(out, False)
    for n in out.get("notices") or []:
        if n.get("kind") == "indicator_warning":
            typer.echo(f"  预警：{n['name']} {n['year']} 年 {n['actual']:g}{n['unit']}，预期 {n['expected']:g}{n['unit']}"
                       f"（{n['label']}），已提示{'、'.join(n['to'])}")

