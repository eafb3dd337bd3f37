"""Plain-text output shared by the CLI (``app.cli``) and its fast read path (``app.fastread``): JSON, and the inbox
as lines. Imports neither rich nor typer."""

from __future__ import annotations

import json
import sys

from stages.ground.i18n import Msg, current, normalise, set_lang


def take_lang(argv: list[str]) -> tuple[list[str], str | None]:
    """``--lang zh|en`` (or ``--lang=…``), wherever it stands before ``--``: set the reader's language for this
    process (else ``PLANCYCLE_LANG``, else Chinese) and return the arguments without it, and a value that is not a
    language (for the caller to refuse)."""
    out, lang, bad, i = [], None, None, 0
    args = list(argv)
    while i < len(args):
        tok = args[i]
        if tok == "--":
            out.extend(args[i:])
            break
        if tok == "--lang" or tok.startswith("--lang="):
            value = tok.split("=", 1)[1] if "=" in tok else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if "=" in tok else 2
            if normalise(value):
                lang = value
            else:
                bad = value
            continue
        out.append(tok)
        i += 1
    set_lang(lang)
    return out, bad


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns: a Chinese character takes two."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - used, 0)


def status_text(status: str) -> str:
    """A milestone's status as the reader reads it: 进行中, 已报送待审 … in Chinese; the stored word in English."""
    if current() != "zh":
        return status
    from stages.rules.status import LABEL_ZH

    return {str(k.value if hasattr(k, "value") else k): v for k, v in LABEL_ZH.items()}.get(status, status)


def inbox_lines(data: dict) -> list[str]:
    """``plancycle inbox`` as text, one string a line."""
    out = [str(Msg("cli.inbox.head", name=data["name"], dept=data["dept"], date=data["as_of"][:10],
                   n=len(data["owes"])))]
    for o in data["owes"]:
        late = str(Msg("cli.inbox.late", n=o["workdays_late"])) if o["workdays_late"] else ""
        out.append(f"  {o['due']}  {pad(o['item'], 14)} {pad(o['name'], 24)} {status_text(o['status'])}{late}")
        if o["returned"]:
            r = o["returned"]
            out.append("      " + str(Msg("cli.inbox.returned", at=r["at"][:10], by=r["by"], comments=r["comments"])))
    if data.get("co_lead"):
        out.append(str(Msg("cli.inbox.co_lead", n=len(data["co_lead"]))))
        for c in data["co_lead"]:
            row = Msg("cli.inbox.co_lead_row", status=status_text(c["status"]), owner=c["owner"])
            out.append(f"  {c['due']}  {pad(c['item'], 14)} {pad(c['name'], 24)} {row}")
    return out
