"""The ``plancycle`` command line: a thin adapter over ``stages`` (read paths) and ``flows`` (actions).
Owns: parsing arguments, opening the database, printing, exit codes, and the one error boundary (:func:`main`).
Every error a user can cause — a usage mistake, a bad date, an unknown item, a control character in a note, a
missing or odd file, a database URL that does not work — is one line on stderr (a usage mistake also gets its
usage line) and exit code 2, with nothing changed. Anything else is one ``internal error`` line and exit code
70; ``PLANCYCLE_DEBUG=1`` shows its traceback.
Layout: this package's ``__init__`` is the root (its options, the order of the commands, :func:`main`); one
module a group of commands (``cycle``, ``views``, ``moves``, ``documents``, ``export``, ``demo``, ``serving``,
``indicators``, ``users``, ``messages``, ``config``), over what they share (``common``: the database, the run,
the checks; ``acting``: how an action is checked and run; ``boundary``: the error boundary). The ``plancycle``
program is ``app.fastread.main``: its fast read path first, then :func:`main`.
Speed: read-only commands (validate, status, inbox, timeline, show, audit, exports) never import Prefect: it
costs ~1.8 s to import. Actions are validated and checked here first (request model, database, run,
departments, items, files) so a refusal answers fast, then run by ``flows.runner.run_action``: through Prefect
when an API is already running, else in this process — never by starting Prefect's embedded server.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from app.cli import config, cycle, demo, documents, export, indicators, messages, moves, serving, users, views
from app.cli.acting import _PREPARED
from app.cli.boundary import _handle
from app.cli.common import H, Msg, PlancycleError, State, _say
from app.lines import take_lang

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help=H("cli.help.app"))


@app.callback()
def _root(db: Optional[str] = typer.Option(None, "--db", help=H("cli.help.root_db")),
          cycle: Optional[str] = typer.Option(None, "--cycle", help=H("cli.help.root_cycle")),
          lang: Optional[str] = typer.Option(None, "--lang", metavar="zh|en", help=H("cli.help.lang"))):
    # (--lang is taken from the command line before it is parsed, wherever it stands: app.lines.take_lang)
    State.db = db
    State.cycle = cycle


# the commands, in the order `plancycle --help` lists them: the top-level ones, then the groups
for _group in (cycle, views, moves, documents, demo, serving, indicators):
    app.add_typer(_group.commands)
app.add_typer(export.export_app, name="export")
app.add_typer(documents.notice_app, name="notice")
app.add_typer(documents.report_app, name="report")
app.add_typer(users.user_app, name="user")
app.add_typer(messages.messages_app, name="messages")
app.add_typer(config.config_app, name="config")
app.add_typer(indicators.indicator_app, name="indicator")


def main(argv: list[str] | None = None) -> None:
    """The entry point: run one command; every error ends here as one line (see the module's docstring).

    Called as the ``plancycle`` program (no ``argv``), it leaves with ``os._exit`` once its output is flushed,
    unless Prefect was loaded (its event queue flushes at exit): tearing down the interpreter — SQLAlchemy,
    pydantic and a thousand modules — costs ~0.2 s here and does nothing a finished command needs.
    """
    try:
        _main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, (int, type(None))):
            _say(str(exc.code))
    if argv is None and "prefect" not in sys.modules:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            code = code or 1
        os._exit(code)
    if code:
        sys.exit(code)


def _main(argv: list[str] | None) -> None:
    # Before anything imports Prefect: its INFO logs and telemetry (which cannot reach out from here anyway)
    # are noise on a command line. Users who want them set these variables themselves.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    debug = os.environ.get("PLANCYCLE_DEBUG", "").strip() not in ("", "0", "false", "no")
    args, bad_lang = take_lang(sys.argv[1:] if argv is None else list(argv))
    State.db = State.cycle = None
    _PREPARED.clear()
    try:
        if bad_lang is not None:
            raise PlancycleError("cli.lang", value=repr(bad_lang))
        command = retranslate(typer.main.get_command(app))
        rv = command.main(args=args, standalone_mode=False, prog_name="plancycle")
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the boundary: every error becomes one line
        _handle(exc, debug)
        raise  # not reached: _handle exits
    if rv == 130:  # typer ≥ 0.29 turns Ctrl-C into Exit(130), which click returns when not standalone
        _say(str(Msg("cli.aborted")))
    if isinstance(rv, int) and rv:
        sys.exit(rv)


_PANELS = {"ARGUMENTS_PANEL_TITLE": ("参数", "Arguments"), "OPTIONS_PANEL_TITLE": ("选项", "Options"),
           "COMMANDS_PANEL_TITLE": ("命令", "Commands")}


def retranslate(command):
    """The command tree with every ``--help`` text (``cli.help.*``) in the current language: the texts were
    rendered when the modules were imported, perhaps in another language than this command line's ``--lang``."""
    from stages.ground.catalogue import CATALOGUE
    from stages.ground.i18n import current

    lang = current()
    texts = {}
    for code, pair in CATALOGUE.items():
        if code.startswith("cli.help."):
            for text in pair:
                texts[text] = str(Msg(code))
    try:
        from typer import rich_utils

        for name, (zh, en) in _PANELS.items():
            setattr(rich_utils, name, zh if lang == "zh" else en)
    except ImportError:  # typer without rich: its plain help
        pass

    def walk(cmd) -> None:
        for attr in ("help", "short_help"):
            value = getattr(cmd, attr, None)
            if isinstance(value, str) and value in texts:
                setattr(cmd, attr, texts[value])
        for p in getattr(cmd, "params", ()):
            if isinstance(getattr(p, "help", None), str) and p.help in texts:
                p.help = texts[p.help]
        for sub in (getattr(cmd, "commands", None) or {}).values():
            walk(sub)

    walk(command)
    return command
