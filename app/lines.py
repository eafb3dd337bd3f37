"""Plain-text output shared by the CLI (``app.cli``) and its fast read path (``app.fastread``): JSON, and the inbox
as lines. Imports neither rich nor typer."""

from __future__ import annotations

import json
import sys


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns: a Chinese character takes two."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(width - used, 0)


def inbox_lines(data: dict) -> list[str]:
    """``plancycle inbox`` as text, one string a line."""
    out = [f"{data['name']}（{data['dept']}） as of {data['as_of'][:10]}: {len(data['owes'])} open"]
    for o in data["owes"]:
        late = f", {o['workdays_late']} working days late" if o["workdays_late"] else ""
        out.append(f"  {o['due']}  {pad(o['item'], 14)} {pad(o['name'], 24)} {o['status']}{late}")
        if o["returned"]:
            out.append(f"      退回 {o['returned']['at'][:10]} by {o['returned']['by']}: {o['returned']['comments']}")
    if data.get("co_lead"):
        out.append(f"共同牵头（由其他牵头单位报送）: {len(data['co_lead'])}")
        for c in data["co_lead"]:
            out.append(f"  {c['due']}  {pad(c['item'], 14)} {pad(c['name'], 24)} {c['status']}, 报送单位 {c['owner']}")
    return out
