"""Upgrading a cycle file to the newest schema, as an edit of its text (``plancycle config upgrade``).

Owns: :func:`plan` (what would change, as line edits and one message per change), :func:`write` (the atomic
rewrite with its backup and the check that the run the file makes is the same), :func:`shape` (what "the same"
means). Does not own: what a schema means (``stages.definition.spec``, ``stages.definition.loader``) or printing (``app.cli.config``).

Schema 1 → 2 is two kinds of change, and nothing else:

* ``schema: 2`` is written right after ``id:`` (or an explicit ``schema: 1`` is turned into it);
* every role the loader *derives* (``_roles`` in stages/loader.py: contractor_choice, registration,
  special_plan_confirmation) is written as ``role: NAME`` on its milestone: the roles found on the loaded spec
  but not in the file.

The file is edited by line, at the line numbers ``stages.definition.yamlio`` records, so comments, key order, quoting, blank
lines, the line endings and a BOM stay byte for byte. A block mapping gets a line ``role: NAME`` after its
``id:`` line at the column of its keys; a flow mapping (``- {id: x, …}``) gets ``, role: NAME`` before its
closing brace. Where a milestone is written in a way this cannot edit safely (an alias, a merge key, an id whose
value runs over several lines), the upgrade is refused naming the line, and nothing is written.

The new text is written to a temporary file beside the old one and loaded with ``load_cycle``: its stages,
items, milestones, due dates, owners, dependencies and roles must be what the old file gave, and its parsed
content the same less ``schema`` and the roles written; only then is it moved over the file (``os.replace``),
after the old bytes are kept as ``FILE.bak``. The file is loaded once more where it now is; if that differs,
the old bytes are put back.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from stages.ground.errors import PlancycleError
from stages.ground.i18n import Msg
from stages.definition.loader import load_cycle
from stages.definition.spec import SCHEMA, CycleSpec
from stages.definition.yamlio import YamlDoc, decode, display_name, load_yaml

# why a role was derived (docs/cycle-schema.md, Roles): said in the change's line
DERIVED_FROM = {
    "contractor_choice": "the topic milestone with only_for: open_call",
    "registration": "the first special-plan milestone after the proposal owned by coordinator",
    "special_plan_confirmation": "the task milestone whose completes_when gate waits for every plan's registration",
}
_ODD_BREAKS = ("\r", "\x85", "\u2028", "\u2029")  # line breaks other than \n / \r\n: line numbers would disagree


class UpgradeRefused(PlancycleError):
    """The file cannot be upgraded as it is; nothing was written."""


@dataclass
class Change:
    line: int  # 1-based, in the upgraded file
    path: str  # the YAML path changed ("schema", "lifecycles.topic.milestones[0].role")
    what: str  # one line

    def as_dict(self) -> dict:
        return {"line": self.line, "path": self.path, "what": self.what}


@dataclass
class Plan:
    path: Path
    name: str  # as shown in messages
    old: bytes
    new: bytes
    from_schema: int
    to_schema: int
    version: int
    cycle: str
    changes: list[Change] = field(default_factory=list)
    spec: CycleSpec | None = None

    @property
    def needed(self) -> bool:
        return self.from_schema < self.to_schema


@dataclass
class _Edit:
    line: int  # 0-based index into the old file's lines
    kind: str  # "insert_after" | "replace"
    text: str  # the new line (insert_after); the whole new line (replace), or the text put in at insert_col
    path: str
    what: str
    insert_col: int | None = None  # replace: an insertion inside the line at this column (flow mappings)


# -- what the file writes and what the loader derives ----------------------------------------------------------------
def derived_roles(spec: CycleSpec) -> list[tuple[tuple, str, str]]:
    """``[(yaml path of the milestone, milestone id, role)]`` for each role the loaded spec has that the file does
    not write, in file order."""
    cf = spec.file
    out = []
    for name, lc in spec.lifecycles.items():
        written = cf.lifecycles.get(name)
        if written is None:
            continue
        index = {m.id: i for i, m in enumerate(written.milestones)}
        for m in lc.milestones:
            i = index.get(m.id)
            if m.role and i is not None and written.milestones[i].role != m.role:
                out.append((("lifecycles", name, "milestones", i), m.id, m.role))
    tasks = {t.id: (i, t) for i, t in enumerate(cf.tasks)}
    for item in spec.items:
        if item.kind != "task" or item.key not in tasks:
            continue
        ti, task = tasks[item.key]
        index = {m.id: j for j, m in enumerate(task.milestones)}
        for m in item.milestones:
            j = index.get(m.id)
            if m.role and j is not None and task.milestones[j].role != m.role:
                out.append((("tasks", ti, "milestones", j), m.id, m.role))
    return out


def shape(spec: CycleSpec) -> dict:
    """What a run is made of, as plain data: stages with their dates, every item with its milestones (due and start
    dates, owners, dependencies, roles …), the lifecycles with their roles, the departments and groups."""
    return {
        "stages": [s.model_dump() for s in spec.stages],
        "items": [i.model_dump() for i in spec.items],
        "lifecycles": {k: v.model_dump() for k, v in spec.lifecycles.items()},
        "departments": [d.model_dump() for d in spec.departments],
        "groups": spec.groups,
    }


def _written(spec: CycleSpec) -> dict:
    """The file's own content less ``schema`` and the milestones' ``role``: what an upgrade must leave alone."""
    data = spec.file.model_dump()
    data.pop("schema_", None)
    for lc in (data.get("lifecycles") or {}).values():
        for m in lc.get("milestones") or ():
            m.pop("role", None)
    for task in data.get("tasks") or ():
        for m in task.get("milestones") or ():
            m.pop("role", None)
    return data


def _first_difference(a, b, where: str = "") -> str | None:
    if type(a) is not type(b):
        return where or "(top)"
    if isinstance(a, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return f"{where}.{k}".lstrip(".")
            d = _first_difference(a[k], b[k], f"{where}.{k}")
            if d:
                return d.lstrip(".")
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{where} (length)".lstrip(".")
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if a == b else (where.lstrip(".") or "(top)")


def compare(before: CycleSpec, after: CycleSpec) -> str | None:
    """None when ``after`` makes the same run as ``before`` and writes the same file less schema and roles; else
    where they first differ."""
    d = _first_difference(shape(before), shape(after))
    if d:
        return d
    d = _first_difference(_written(before), _written(after))
    return f"file content {d}" if d else None


# -- planning the edits ----------------------------------------------------------------------------------------------
def _split(text: str) -> list[str]:
    """Lines with their endings, split at \\n only (\\r\\n stays at the end of its line)."""
    lines = text.split("\n")
    out = [ln + "\n" for ln in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _eol(line: str, lines: list[str]) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith("\n"):
        return "\n"
    return "\r\n" if any(ln.endswith("\r\n") for ln in lines) else "\n"


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment_or_blank(line: str) -> bool:
    s = _body(line).strip()
    return not s or s.startswith("#")


_KEY_RE = r"(?:{k}|\"{k}\"|'{k}')"


def _refuse(name: str, line: int | None, what: Msg, hint: "str | Msg") -> UpgradeRefused:
    where = f"{name}:{line}" if line else name
    return UpgradeRefused("definition.upgrade_by_hand", where=where, what=what, hint=hint)


def _single_line_value(lines: list[str], i: int, col: int) -> bool:
    """The value of the key at line ``i`` (0-based), column ``col``, ends on that line: the next line that is not
    blank or a comment is indented no deeper than the key (a sibling or the end of the mapping)."""
    rest = _body(lines[i])[col:]
    value = rest.split(":", 1)[1].strip() if ":" in rest else ""
    if not value or value.startswith(("|", ">", "&", "*", "!", "[", "{")):
        return False
    if value[0] in "\"'" and (len(value) < 2 or value.count(value[0]) < 2):
        return False  # a quoted value that goes on past the line
    for nxt in lines[i + 1:]:
        if _is_comment_or_blank(nxt):
            continue
        body = _body(nxt)
        indent = len(body) - len(body.lstrip(" "))
        return indent <= col
    return True


def _schema_edit(doc: YamlDoc, lines: list[str], name: str) -> _Edit:
    if "schema" in doc.data:  # an explicit schema: 1
        i = doc.line("schema") - 1
        m = re.match(r"^(" + _KEY_RE.format(k="schema") + r"\s*:\s*)(1|\"1\"|'1')(\s*(?:#.*)?)$", _body(lines[i]))
        if not m:
            raise _refuse(name, i + 1, Msg("definition.upgrade.schema_line"), f"schema: {SCHEMA}")
        eol = lines[i][len(_body(lines[i])):]
        return _Edit(i, "replace", m.group(1) + str(SCHEMA) + m.group(3) + eol, "schema",
                     f"schema: {m.group(2)} → schema: {SCHEMA}")
    i = doc.line("id") - 1
    if not re.match(r"^" + _KEY_RE.format(k="id") + r"\s*:", _body(lines[i])) or not _single_line_value(lines, i, 0):
        raise _refuse(name, i + 1, Msg("definition.upgrade.after_id"), Msg("definition.hint.top_level", line=f"schema: {SCHEMA}"))
    return _Edit(i, "insert_after", f"schema: {SCHEMA}" + _eol(lines[i], lines), "schema",
                 f"added schema: {SCHEMA}")


def _flow_close(lines: list[str], i: int, col: int) -> tuple[int, int]:
    """(line, column) of the ``}`` closing the flow mapping that opens at line ``i``, column ``col``."""
    depth = 0
    li, ci = i, col
    prev = ""  # the previous significant character: a quote only opens a scalar after one of {[,: or space
    while li < len(lines):
        body = _body(lines[li])
        while ci < len(body):
            ch = body[ci]
            if ch in "\"'" and (prev in "{[,:?" or prev == " " or prev == ""):
                quote = ch
                ci += 1
                while True:
                    if ci >= len(body):  # a quoted scalar over several lines
                        li += 1
                        if li >= len(lines):
                            raise ValueError("unterminated quote")
                        body, ci = _body(lines[li]), 0
                        continue
                    c = body[ci]
                    if quote == '"' and c == "\\":
                        ci += 2
                        continue
                    if c == quote:
                        if quote == "'" and ci + 1 < len(body) and body[ci + 1] == "'":
                            ci += 2
                            continue
                        break
                    ci += 1
                prev = "x"
            elif ch == "#" and (ci == 0 or body[ci - 1] in " \t"):
                break  # a comment: the rest of the line
            elif ch in "{[":
                depth += 1
                prev = ch
            elif ch in "}]":
                depth -= 1
                if depth == 0:
                    if ch != "}":
                        raise ValueError("mismatched bracket")
                    return li, ci
                prev = ch
            elif ch in " \t":
                prev = " "
            else:
                prev = ch
            ci += 1
        li, ci, prev = li + 1, 0, " "
    raise ValueError("no closing brace")


def _role_edit(doc: YamlDoc, lines: list[str], name: str, path: tuple, mid: str, role: str) -> _Edit:
    dotted = _dotted(path)
    hint = Msg("definition.hint.role", role=role, milestone=mid, at=dotted)
    node = doc.data
    for p in path:
        node = node[p]
    if "role" in node:  # written but empty (role: or role: null): give it its value
        i = doc.line(*path, "role") - 1
        body = _body(lines[i])
        m = re.match(r"^([ \-]*" + _KEY_RE.format(k="role") + r"[ \t]*:)(.*)$", body)
        rest = m.group(2) if m else ""
        hash_at = next((k for k, c in enumerate(rest) if c == "#" and (k == 0 or rest[k - 1] in " \t")), len(rest))
        value, comment = rest[:hash_at], rest[hash_at:]
        if not m or value.strip() not in ("", "null", "~", "Null", "NULL"):
            raise _refuse(name, i + 1, Msg("definition.upgrade.empty_role", milestone=mid), hint)
        gap = value[len(value.rstrip()):] if comment else ""  # the spacing before a comment stays as it was
        if comment and not gap:
            gap = " "
        eol = lines[i][len(body):]
        return _Edit(i, "replace", m.group(1) + f" {role}" + gap + comment + eol, dotted + ".role",
                     f"{dotted} ({mid}): role: {role} (was derived: {DERIVED_FROM[role]})")
    i = doc.line(*path) - 1
    body = _body(lines[i])
    m = re.match(r"^([ ]*(?:-[ ]+)*)(\S)", body)
    if m is None:
        raise _refuse(name, i + 1, Msg("definition.upgrade.no_milestone_line", milestone=mid), hint)
    col = len(m.group(1))
    what = f"{dotted} ({mid}): role: {role} (was derived: {DERIVED_FROM[role]})"
    if m.group(2) == "{":  # a flow mapping: ", role: NAME" before its closing brace
        try:
            li, ci = _flow_close(lines, i, col)
        except ValueError:
            raise _refuse(name, i + 1, Msg("definition.upgrade.no_brace_end", milestone=mid, braces="{…}"), hint) from None
        before = _body(lines[li])[:ci].rstrip()
        if not before and li > i:  # the brace alone on its line: the text before it is on an earlier line
            k = li - 1
            while k > i and _is_comment_or_blank(lines[k]):
                k -= 1
            before = _body(lines[k]).split(" #")[0].rstrip()
        sep = " " if before.endswith((",", "{")) else ", "
        return _Edit(li, "replace", sep + f"role: {role}", dotted + ".role", what, insert_col=ci)
    # a block mapping: a line "role: NAME" after the id line, at the column of the mapping's keys
    if "id" not in node or doc.lines.get(path + ("id",)) is None:
        raise _refuse(name, i + 1, Msg("definition.upgrade.no_id_line", milestone=mid), hint)
    j = doc.lines[path + ("id",)] - 1
    mm = re.match(r"^([ ]*(?:-[ ]+)*)" + _KEY_RE.format(k="id") + r"\s*:", _body(lines[j]))
    if mm is None or j < i or not _single_line_value(lines, j, len(mm.group(1))):
        raise _refuse(name, j + 1, Msg("definition.upgrade.no_role_place", milestone=mid), hint)
    key_col = len(mm.group(1))
    return _Edit(j, "insert_after", " " * key_col + f"role: {role}" + _eol(lines[j], lines), dotted + ".role", what)


def _dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out


def _apply(lines: list[str], edits: list[_Edit]) -> tuple[str, list[Change]]:
    """The new text, and one Change per edit with its line in the new text."""
    by_line: dict[int, list[_Edit]] = {}
    for e in edits:
        by_line.setdefault(e.line, []).append(e)
    out: list[str] = []
    changes: list[Change] = []
    for i, line in enumerate(lines):
        here = by_line.get(i, [])
        replaced = [e for e in here if e.kind == "replace"]
        if replaced:
            inserts = sorted((e for e in replaced if e.insert_col is not None), key=lambda e: -e.insert_col)
            whole = [e for e in replaced if e.insert_col is None]
            if whole:
                line = whole[0].text
            for e in inserts:
                line = line[:e.insert_col] + e.text + line[e.insert_col:]
        out.append(line)
        for e in replaced:
            changes.append(Change(len(out), e.path, e.what))
        for e in here:
            if e.kind == "insert_after":
                if not out[-1].endswith("\n"):  # the last line had no line break
                    out[-1] += "\r\n" if e.text.endswith("\r\n") else "\n"
                out.append(e.text)
                changes.append(Change(len(out), e.path, e.what))
    return "".join(out), changes


def plan(path: str | os.PathLike) -> Plan:
    """What upgrading ``path`` to the newest schema changes. Refuses (a ConfigError or :class:`UpgradeRefused`, one
    line, nothing written) a file that does not validate or that cannot be edited safely."""
    path = Path(os.fsdecode(path))
    name = display_name(path)
    spec = load_cycle(path)  # refuses a file that does not validate
    doc = load_yaml(path)
    cf = spec.file
    p = Plan(path=path, name=name, old=doc.raw, new=doc.raw, from_schema=cf.schema_, to_schema=SCHEMA,
             version=cf.version, cycle=cf.id, spec=spec)
    if not p.needed:
        return p
    if cf.schema_ != 1 or SCHEMA != 2:  # pragma: no cover - the day a schema 3 comes, this needs its own steps
        raise UpgradeRefused("definition.upgrade.unknown_step", name=name, schema=cf.schema_, to=SCHEMA)
    text = decode(doc.raw, doc.file)
    bom = doc.raw.startswith(b"\xef\xbb\xbf")
    if any(b in text.replace("\r\n", "\n") for b in _ODD_BREAKS):
        raise UpgradeRefused("definition.upgrade.odd_breaks", name=name)
    lines = _split(text)
    edits = [_schema_edit(doc, lines, name)]
    for mpath, mid, role in derived_roles(spec):
        edits.append(_role_edit(doc, lines, name, mpath, mid, role))
    new_text, changes = _apply(lines, edits)
    p.new = (b"\xef\xbb\xbf" if bom else b"") + new_text.encode("utf-8")
    p.changes = sorted(changes, key=lambda c: c.line)
    return p


# -- writing ---------------------------------------------------------------------------------------------------------
def _check_writable(p: Plan, backup: bool) -> None:
    st = os.lstat(p.path)
    if stat.S_ISLNK(st.st_mode):
        raise UpgradeRefused("definition.upgrade.symlink", name=p.name, target=display_name(os.path.realpath(p.path)))
    if not st.st_mode & stat.S_IWUSR or not os.access(p.path, os.W_OK):
        raise UpgradeRefused("definition.upgrade.read_only", name=p.name)
    folder = p.path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UpgradeRefused("definition.upgrade.folder_read_only", name=p.name, folder=display_name(folder))
    if backup:
        bak = _backup_path(p.path)
        if os.path.lexists(bak):
            if not os.path.isfile(bak) or os.path.islink(bak):
                raise UpgradeRefused("definition.upgrade.backup_not_file", backup=display_name(bak))
            with open(bak, "rb") as fh:
                if fh.read() != p.old:
                    raise UpgradeRefused("definition.upgrade.backup_differs", backup=display_name(bak))


def _backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def _write_beside(target: Path, data: bytes, mode: int) -> Path:
    """``data`` in a new temporary file in ``target``'s folder (flushed to disk), with ``mode``; its path."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix="." + target.name + ".", suffix=".upgrade")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(mode))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return Path(tmp)


def write(p: Plan, *, backup: bool = True) -> Path | None:
    """Write the plan: the new text beside the file, checked with load_cycle, the old bytes to ``FILE.bak`` (unless
    ``backup`` is false), the new text over the file, checked once more there (the old bytes put back if not the
    same). Returns the backup's path. Raises :class:`UpgradeRefused` (nothing changed) or :class:`PlancycleError`
    when a check after the move failed and the old file was restored."""
    _check_writable(p, backup)
    mode = os.stat(p.path).st_mode
    try:
        tmp = _write_beside(p.path, p.new, mode)
    except OSError as exc:
        raise UpgradeRefused("definition.upgrade.cannot_write", name=p.name,
                             why=(exc.strerror or str(exc)).lower()) from None
    try:
        try:
            after = load_cycle(tmp)
        except PlancycleError as exc:
            raise UpgradeRefused("definition.upgrade.does_not_load", name=p.name, problem=exc.msg or str(exc)) from None
        diff = compare(p.spec, after)
        if diff:
            raise UpgradeRefused("definition.upgrade.not_same_run", name=p.name, diff=diff)
        with open(p.path, "rb") as fh:
            if fh.read() != p.old:
                raise UpgradeRefused("definition.upgrade.changed_meanwhile", name=p.name)
        bak = None
        if backup:
            bak = _backup_path(p.path)
            try:
                btmp = _write_beside(p.path, p.old, mode)
                os.replace(btmp, bak)
            except OSError as exc:
                raise UpgradeRefused("definition.upgrade.cannot_write", name=display_name(bak),
                                     why=(exc.strerror or str(exc)).lower()) from None
        os.replace(tmp, p.path)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    # where it now is: the same run, or the old bytes back
    problem = None
    try:
        diff = compare(p.spec, load_cycle(p.path))
        if diff:
            problem = Msg("definition.upgrade.after_not_same", diff=diff)
    except PlancycleError as exc:
        problem = Msg("definition.upgrade.after_does_not_load", problem=exc.msg or str(exc))
    if problem:
        restored = _write_beside(p.path, p.old, mode)
        os.replace(restored, p.path)
        raise PlancycleError("definition.upgrade.put_back", name=p.name, problem=problem)
    return bak
