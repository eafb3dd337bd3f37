"""Loading a cycle definition, with fail-fast checks.

Owns: ``load_cycle(path) -> CycleSpec``: reading the cycle YAML and the files it names (departments, calendar
extension, notice settings), checking them, and resolving every deadline phrase to a date. Every problem raises
one :class:`ConfigError` naming the file, the line, the YAML path, what is wrong and what was expected — never a
traceback, MemoryError, RecursionError or hang, whatever the input. The checks, in order:

0. each file is a readable regular file within ``stages.definition.yamlio``'s limits (size, nesting, expanded aliases);
   a path the cycle names that leads nowhere is reported at the cycle's line that wrote it;
1. shape and types (pydantic, unknown keys refused);
2. unique ids (stages, gates, tasks, topic numbers, milestones within an item, departments);
3. references resolve: departments, stages, gates, approval bodies, milestones, lifecycles, timeline rows;
4. no dependency cycles across milestones, offsets and the gates that open or complete them, and no gates
   naming each other in a loop (or deeper than MAX_GATE_DEPTH, or wider than MAX_GATE_SIZE once expanded);
5. every deadline parses (phrases at most MAX_PHRASE characters), starts no later than it ends, and lies inside
   its stage's window;
6. every gate can become true (its milestones exist, N of M has N ≤ M, its body exists).

Exceptions from code that reads the user's values for us (ruamel, stages.definition.calendar's extension reader, date
arithmetic) are turned into ConfigErrors where they are called; anything else escaping is a bug of ours and is
left to crash loudly.

Where the checks live: this module reads the files and checks the notice settings and the issuer (with
``stages.definition.notice_settings``); ``stages.definition.checker`` makes the errors and holds the references
(step 2 and 3's ``_Checker``); ``stages.definition.resolve`` resolves the items (3), ``stages.definition.graph``
checks the gates and the dependency cycles (4, 6) and ``stages.definition.dates`` the deadlines (5).

Does not own: the database (``stages.store.models``) or what happens at run time (``stages.engine``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pydantic import ValidationError

from stages.definition.calendar import WorkCalendar
from stages.definition.checker import (  # noqa: F401  (ROLE_OWNERS and the limits: importable from here too)
    MAX_GATE_DEPTH,
    MAX_GATE_SIZE,
    MAX_PHRASE,
    ROLE_OWNERS,
    _Checker,
    _dotted,
    _error,
    _from_validation,
    _kind_of,
)
from stages.definition.graph import gate_milestone_refs  # noqa: F401
from stages.definition.notice_settings import NOTICE_KINDS, _notices_problem  # noqa: F401
from stages.definition.resolve import _resolve
from stages.definition.spec import CycleFile, CycleSpec, DepartmentsFile
from stages.definition.yamlio import FileError, YamlDoc, clean, load_yaml
from stages.ground.i18n import Msg
from stages.ground.paths import NOTICES_DEFAULT  # the shipped notice settings (= stages.paperwork.notices.CONFIG)


def _included(doc: YamlDoc, key: str, target: Path, load):
    """``load(target)`` for a file the cycle names under ``key``. If that file cannot be read at all (missing,
    a directory, too large …) the error names the cycle file and the line that wrote the path; problems inside
    the file name that file and its line."""
    try:
        return load(target)
    except FileError as exc:
        written = key in doc.data
        note = "" if written else Msg("config.default_file_note", key=key)
        raise _error("config.included_unreadable", file=doc.file, line=doc.line(key) if written else 1, path=key,
                     expected=exc.expected or Msg("config.expect_relative_path"),
                     name=exc.file, problem=exc.msg or exc.message, note=note) from None


def _departments_of(ddoc: YamlDoc) -> DepartmentsFile:
    if not isinstance(ddoc.data, dict):
        raise _error("config.departments_not_mapping", file=ddoc.file, line=1)
    try:
        return DepartmentsFile.model_validate(ddoc.data)
    except ValidationError as exc:
        raise _from_validation(exc, ddoc) from None


def load_departments(path: str | bytes | os.PathLike) -> DepartmentsFile:
    return _departments_of(load_yaml(path))


def _calendar(doc: YamlDoc, cycle_path: Path, rel: str | None) -> WorkCalendar:
    """The working-day calendar with the cycle's ``calendar:`` extension on top. The extension is read by
    stages.definition.calendar: a value it cannot use is reported as a ConfigError naming that file."""
    if not rel:
        return WorkCalendar.default(None)
    target = cycle_path.parent / rel
    try:
        return _included(doc, "calendar", target, WorkCalendar.default)
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
        raise _error("config.calendar_unusable", file=clean(os.fsdecode(target)), line=1,
                     expected=Msg("config.expect_calendar", open="{", close="}"),
                     kind=type(exc).__name__, detail=str(exc)) from None


def _check_notices(doc: YamlDoc, cycle_path: Path, rel: str | None) -> YamlDoc:
    """The notice settings (``notices:``, default config/notices.yaml) exist, load, and hold what issuing a
    notice reads.

    Read here rather than through stages.paperwork.notices.load_config: importing stages.paperwork.notices pulls in SQLAlchemy,
    SQLModel and the tables (0.45 s, more than loading the cycle itself) into ``validate``, which touches no
    database. :func:`_notices_problem` applies load_config's rules and more; tests/test_loader_hostile.py checks
    that every file load_config refuses is refused here too, and that NOTICES_DEFAULT is stages.paperwork.notices.CONFIG.
    """
    target = cycle_path.parent / rel if rel else NOTICES_DEFAULT
    ndoc = _included(doc, "notices", target, load_yaml)
    problem = _notices_problem(ndoc.data)
    if problem is not None:
        path, what, expected = problem
        raise _error(what, file=ndoc.file, line=ndoc.line(*path), path=_dotted(path) or None, expected=expected)
    return ndoc


def _check_issuer(doc: YamlDoc, ndoc: YamlDoc, cf: CycleFile) -> None:
    """Without ``notices:``, the default settings are one office's (Changning's 区发改委): another district's
    documents would go out under its name and number. Checked after everything else, so a file with another
    mistake is told that one first."""
    organ = str((ndoc.data.get("organ") or {}).get("name") or "")
    try:
        default = Path(ndoc.path or ndoc.file).resolve() == NOTICES_DEFAULT.resolve()
    except (OSError, RuntimeError):
        default = False
    if (not cf.notices or default) and cf.district not in organ:  # the organ is another district's
        said = "config.issuer_default_notices" if not cf.notices else "config.issuer_named_default"
        raise _error(said, file=doc.file, line=doc.line("issuer"), path="notices",
                     expected=Msg("config.expect_issuer_notices"),
                     default=str(NOTICES_DEFAULT.relative_to(NOTICES_DEFAULT.parent.parent)), organ=organ,
                     district=cf.district)


def load_cycle(path: str | bytes | os.PathLike, calendar: WorkCalendar | None = None) -> CycleSpec:
    path = Path(os.fsdecode(path))
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise _error("config.top_not_mapping", file=doc.file, line=1, expected=Msg("config.expect_top_keys"),
                     kind=_kind_of(doc.data))
    try:
        cf = CycleFile.model_validate(doc.data)
    except ValidationError as exc:
        raise _from_validation(exc, doc) from None
    dpath = path.parent / cf.departments
    ddoc = _included(doc, "departments", dpath, load_yaml)
    dfile = _departments_of(ddoc)
    if calendar is None:
        calendar = _calendar(doc, path, cf.calendar)
    ndoc = _check_notices(doc, path, cf.notices)
    ck = _Checker(doc, cf, ddoc, dfile, calendar)
    ck.unique()
    items, lifecycles = _resolve(ck)
    checksum, legacy = checksums(doc.raw, ddoc.raw, path, cf.departments)
    groups = {k: tuple(ck.dept_names[m] for m in v) for k, v in dfile.groups.items()}
    _check_issuer(doc, ndoc, cf)
    return CycleSpec(file=cf, path=str(path), checksum=checksum, legacy_checksums=legacy,
                     departments=dfile.departments, groups=groups, stages=ck.stages, items=tuple(items),
                     lifecycles=lifecycles)


def checksums(cycle_raw: bytes, departments_raw: bytes, path: Path, departments_rel: str) -> tuple[str, tuple[str, ...]]:
    """The run's fingerprint of its definition: the SHA-256 of the cycle file's bytes and the departments file's
    bytes (what makes the run's items, owners and dates), never of a path. The calendar extension and the notice
    settings are not in it: a year's holidays are added and a contact filled in while a run goes on, and neither
    changes a date already given (a year not yet listed is refused, never guessed).

    Also the digests older versions computed (they hashed the departments file's path as it was written, so a run
    made from ``plancycle init config/…`` with a relative path failed every later action): a run created by them
    keeps working with the same files."""
    new = hashlib.sha256(b"plancycle-cycle-v2\0" + hashlib.sha256(cycle_raw).digest()
                         + hashlib.sha256(departments_raw).digest()).hexdigest()
    legacy = []
    for base in dict.fromkeys((path, Path(os.path.abspath(path)))):
        legacy.append(hashlib.sha256(cycle_raw + os.fsencode(base.parent / departments_rel) + departments_raw).hexdigest())
    return new, tuple(legacy)
