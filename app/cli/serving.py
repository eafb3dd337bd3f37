"""Serving: ``plancycle serve`` (every deployment in prefect.yaml on its schedule) and ``plancycle web`` (the
web console over this database)."""

from __future__ import annotations

import os
from typing import Optional

import typer

from app.cli.common import H, Msg, PlancycleError, State, _database_url, _engine

commands = typer.Typer()


@commands.command(help=H("cli.help.cmd_serve"))
def serve(limit: Optional[int] = typer.Option(None, "--limit", help=H("cli.help.serve_limit"))):
    """Serve every deployment in prefect.yaml with its schedule (daily sweep 09:00, monthly report) until Ctrl-C."""
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import runner_deployments
    from flows.runner import advertise, withdraw

    if State.db:
        os.environ["PLANCYCLE_DATABASE_URL"] = State.db
    db = _database_url()
    api = PREFECT_API_URL.value()
    started = False
    if not api:
        # the embedded API, started here rather than inside serve() so that its address can be advertised: CLI
        # actions on this database then run their flows on it instead of starting a server of their own
        try:
            from prefect.server.api.server import SubprocessASGIServer

            SubprocessASGIServer().start()
            api, started = SubprocessASGIServer().api_url, True
        except Exception:  # an internal API of Prefect's that moved: serve as before, without advertising
            api = None
    if not started:
        prefect_serve(*runner_deployments(db=State.db), limit=limit)
        return
    with temporary_settings(updates={PREFECT_API_URL: api}):
        advertise(db, api)
        try:
            prefect_serve(*runner_deployments(db=State.db), limit=limit)
        finally:
            withdraw(db)


@commands.command(help=H("cli.help.cmd_web"))
def web(host: str = typer.Option("127.0.0.1", "--host", help=H("cli.help.web_host")),
        port: int = typer.Option(8000, "--port"),
        as_of: Optional[str] = typer.Option(None, "--as-of", help=H("cli.help.web_as_of"))):
    """Serve the web console over this database (sign in at /login)."""
    from app.web.server import serve

    _engine(write=True)  # the database exists and is of this schema: say so in one line before starting
    if not 1 <= port <= 65535:
        raise PlancycleError(f"--port must be 1–65535, not {port}")
    typer.echo(str(Msg("cli.web.serving", host=host, port=port)))
    serve(State.db, host, port, as_of)
