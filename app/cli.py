"""The ``plancycle`` command line: a thin adapter over ``stages`` (read paths) and ``flows`` (actions).

Owns: parsing arguments, opening the database, printing, exit codes. Every error a user can cause is one line on
stderr and exit code 2, with nothing changed. Read-only commands (validate, status, show, audit) never import
Prefect: it costs over a second to import and they must answer fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import click
import typer

from stages.errors import PlancycleError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="plancycle: run a district Five-Year-Plan preparation cycle (前期研究 → 规划编制 → 审议发布).")

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "cycles" / "changning-14th.yaml"


class State:
    db: str | None = None
    cycle: str | None = None


@app.callback()
def _root(db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL (default: $PLANCYCLE_DATABASE_URL or sqlite:///plancycle.db)"),
          cycle: Optional[str] = typer.Option(None, "--cycle", help="cycle id, when the database holds several runs")):
    State.db = db
    State.cycle = cycle


def _engine():
    from stages.models import create_schema, make_engine

    engine = make_engine(State.db)
    create_schema(engine)
    return engine


def _open_run(session):
    """The run in this database and the spec it was created from."""
    from stages.loader import load_cycle
    from stages.services import find_run

    run = find_run(session, State.cycle)
    return run, load_cycle(run.spec_path)


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


# -- validate / init / status ------------------------------------------------------------------------------------
@app.command()
def validate(path: Path = typer.Argument(..., help="a cycle definition, e.g. config/cycles/changning-14th.yaml"),
             as_json: bool = typer.Option(False, "--json")):
    """Check a cycle definition; exit non-zero with one line per problem."""
    from stages.loader import load_cycle

    spec = load_cycle(path)
    summary = {"ok": True, "cycle": spec.id, "version": spec.version, "stages": [s.id for s in spec.stages],
               "topics": sum(1 for i in spec.items if i.kind == "topic"),
               "tasks": sum(1 for i in spec.items if i.kind == "task"),
               "milestones": sum(len(i.milestones) for i in spec.items), "gates": len(spec.file.gates),
               "departments": len(spec.departments)}
    if as_json:
        _print_json(summary)
    else:
        typer.echo(f"{path}: ok — {spec.id} v{spec.version}: {summary['topics']} topics, {summary['tasks']} tasks, "
                   f"{summary['milestones']} milestones, {summary['gates']} gates, {summary['departments']} departments")


@app.command()
def init(config: Path = typer.Argument(DEFAULT_CONFIG, help="the cycle definition to run"),
         as_of: Optional[str] = typer.Option(None, "--as-of", help="the run's start (YYYY-MM-DD); default now"),
         as_json: bool = typer.Option(False, "--json")):
    """Create the run for a cycle definition. Running it again changes nothing."""
    from sqlmodel import Session

    from stages.loader import load_cycle
    from stages.services import init_run

    spec = load_cycle(config)
    engine = _engine()
    with Session(engine) as session:
        out = init_run(session, spec, as_of=as_of)
        session.commit()
    if as_json:
        _print_json(out.as_dict())
    else:
        typer.echo(out.message + (f"; {len(out.opened)} milestones open" if out.changed else ""))


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="machine-readable board"),
           dept: Optional[str] = typer.Option(None, "--dept", help="only items this department leads or owes"),
           stage: Optional[str] = typer.Option(None, "--stage", help="research / drafting / adoption"),
           late: bool = typer.Option(False, "--late", help="only items with an overdue milestone"),
           as_of: Optional[str] = typer.Option(None, "--as-of", help="the day to judge lights on (default today)")):
    """The board: every item's current milestone, due date, owner and traffic light."""
    from sqlmodel import Session

    from stages.board import board

    engine = _engine()
    with Session(engine) as session:
        _run, spec = _open_run(session)
        if dept:
            try:
                spec.department(dept)
            except KeyError:
                raise PlancycleError(f"unknown department {dept!r}") from None
        if stage and stage not in [s.id for s in spec.stages]:
            raise PlancycleError(f"unknown stage {stage!r} (expected {' / '.join(s.id for s in spec.stages)})")
        data = board(session, spec, as_of, dept=dept, stage=stage, late_only=late)
    if as_json:
        _print_json(data)
        return
    from app.render import print_board

    print_board(data)


def main() -> None:
    from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

    command = typer.main.get_command(app)
    try:
        rv = command.main(standalone_mode=False, prog_name="plancycle")
    except PlancycleError as exc:
        sys.stderr.write(f"plancycle: error: {exc}\n")
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        sys.stderr.write("plancycle: aborted\n")
        sys.exit(130)
    except (ArgumentError, OperationalError) as exc:
        first = str(exc.orig if getattr(exc, "orig", None) else exc).splitlines()[0]
        sys.stderr.write(f"plancycle: error: database: {first}\n")
        sys.exit(2)
    except SQLAlchemyError as exc:
        sys.stderr.write(f"plancycle: error: database: {str(exc).splitlines()[0]}\n")
        sys.exit(2)
    if isinstance(rv, int) and rv:
        sys.exit(rv)


if __name__ == "__main__":
    main()
