"""``plancycle demo``: the whole cycle on a simulated clock through the real flows (``flows.demo``), then its
summary as a table (and, with ``--web``, the console over its database)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from app.cli.common import DEFAULT_CONFIG, State, _date

commands = typer.Typer()


@commands.command()
def demo(out: Path = typer.Option(Path("demo-out"), "--out", help="where notices, ledger and calendar go"),
         seed: int = typer.Option(2019, "--seed", help="same seed, same result"),
         db: Optional[str] = typer.Option(None, "--db", help="database URL (default DIR/plancycle-demo.db, made fresh)"),
         until: Optional[str] = typer.Option(None, "--until", help="stop the simulated clock early (YYYY-MM-DD)"),
         web: bool = typer.Option(False, "--web", help="when the simulation ends, serve the console over its database"),
         port: int = typer.Option(8000, "--port", help="with --web"),
         config: Path = typer.Option(DEFAULT_CONFIG, "--config", help="the cycle to simulate (any valid cycle file)")):
    """Run a whole cycle (default: Changning's 14th FYP, 2019-06 … 2021-06) on a simulated clock through the real flows."""
    from rich.console import Console
    from rich.table import Table

    from app.render import print_board
    from flows.demo import run_demo

    console = Console()
    from stages.definition.loader import load_cycle

    load_cycle(config)  # a file that does not validate is one line and exit 2, before anything is made
    stop = _date(until, "--until") if until else None
    s = run_demo(out, seed, db or State.db, console, stop, config, board_printer=print_board)
    t = Table(title=f"plancycle demo — {s['title']} ({s['cycle']}), seed {seed}", show_header=False,
              title_justify="left")
    t.add_row("cycle complete on", str(s["complete_on"] or f"not complete by {s['last_day']}"))
    t.add_row("items", ", ".join(f"{k} {v}" for k, v in sorted(s["items"].items()))
              + (f" ({s['special_plans_rejected']} special plans not confirmed)" if "special_plan" in s["items"] else ""))
    if s.get("optional_not_triggered") or s.get("figures_reported"):
        t.add_row("figures / optional", f"{s.get('figures_reported', 0)} actual figures reported; "
                                        f"{s.get('optional_not_triggered', 0)} optional milestones never triggered")
    t.add_row("notices issued", f"{s['notices']}: " + ", ".join(f"{k} {v}" for k, v in sorted(s["notices_by_kind"].items())))
    t.add_row("reminders", ", ".join(f"{k} {v}" for k, v in sorted(s["reminders"].items())))
    t.add_row("late / returned", f"{s['items_with_late_submissions']} items delivered something late; "
                                 f"{s['milestones_returned']} milestones returned and resubmitted")
    t.add_row("unfinished milestones", str(s["milestones_unfinished"]))
    for f in s["gates_forced"]:
        t.add_row("gate forced", f"{f['day']}: {f['gate']} (the cycle file allows it: may_force) — {f['reason']}")
    t.add_row("time", f"simulation {s['sim_seconds']} s ({s['flow_runs']} flow runs, {s['flow_seconds']} s in them), "
                      f"export {s['export_seconds']} s")
    t.add_row("outputs", f"{s['notices_dir']} (.docx + .md), {s['ledger']}, {s['calendar']}")
    u = s["users"]
    t.add_row("web console", f"users: {u['coordinator']} (规划科), {u['leader']} (领导), {u['admin']}, and one liaison per "
                             f"department named by its id (e.g. {s['example_user']}; {u['departments']} in all); "
                             f"demo password: {u['password']}")
    console.print(t)
    if web:
        from app.web.server import serve

        db_url = db or State.db or f"sqlite:///{(out / 'plancycle-demo.db').resolve()}"
        day = str(s["complete_on"] or s["last_day"])
        console.print(f"serving the console over {db_url} as of {day}: http://127.0.0.1:{port}/  (Ctrl-C to stop)")
        serve(db_url, "127.0.0.1", port, day)
