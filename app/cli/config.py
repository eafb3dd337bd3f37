"""``plancycle config …``: commands on cycle files.

    plancycle config upgrade FILE [--dry-run] [--json] [--no-backup]

Touches no database and never imports Prefect. The work is ``stages.definition.upgrade``; this module prints it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from app.cli.common import H

from app.lines import print_json as _print_json

config_app = typer.Typer(help=H("cli.help.config_app"), no_args_is_help=True)


def run_note(name: str, cycle: str, version: int) -> str:
    """The last line after a change: what the new content means for a run made from the old one
    (docs/cycle-schema.md, What a run is tied to; stages.engine._ctx and init_run)."""
    return (f"note: a run is tied to the file's content: a run of {cycle} v{version} made from the old {name} "
            f"refuses moves with the new one (“changed since this run was created”) until you bump its version: "
            f"{version} → {version + 1}; items, dates and roles are unchanged")


@config_app.command("upgrade", help=H("cli.help.cmd_upgrade"))
def upgrade_cmd(file: Path = typer.Argument(..., help=H("cli.help.upgrade_cmd_arg")),
                dry_run: bool = typer.Option(False, "--dry-run", help=H("cli.help.upgrade_cmd_dry_run")),
                no_backup: bool = typer.Option(False, "--no-backup", help=H("cli.help.upgrade_cmd_no_backup")),
                as_json: bool = typer.Option(False, "--json")):
    """Rewrite a cycle file in the newest schema (schema: 2, roles written out); comments and layout are kept."""
    from stages.definition import upgrade

    p = upgrade.plan(file)
    name = p.name
    out = {"file": name, "cycle": p.cycle, "version": p.version, "from_schema": p.from_schema,
           "to_schema": p.to_schema, "changed": False, "dry_run": dry_run, "backup": None,
           "changes": [c.as_dict() for c in p.changes], "note": None}
    if not p.needed:
        out["message"] = f"already schema {p.from_schema}: nothing to change"
        if as_json:
            _print_json(out)
        else:
            typer.echo(f"{name}: {out['message']}")
        return
    note = run_note(name, p.cycle, p.version)
    out["note"] = note
    bak = None
    if not dry_run:
        bak = upgrade.write(p, backup=not no_backup)
        out["changed"] = True
        out["backup"] = str(bak) if bak else None
    if as_json:
        _print_json(out)
        return
    for c in p.changes:
        typer.echo(f"{name}:{c.line}: {c.what}")
    if dry_run:
        typer.echo(f"dry run: {name} would go from schema {p.from_schema} to {p.to_schema} with "
                   f"{len(p.changes)} change(s); nothing was written")
    else:
        typer.echo(f"upgraded {name} to schema {p.to_schema}: {len(p.changes)} change(s), loaded again with the "
                   "same items, milestones, due dates and roles; "
                   + (f"the old file is {bak}" if bak else "no backup kept (--no-backup)"))
    typer.echo(note)

