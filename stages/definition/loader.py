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

Does not own: the database (``stages.store.models``) or what happens at run time (``stages.engine``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stages.ground.paths import NOTICES_DEFAULT  # the shipped notice settings (= stages.paperwork.notices.CONFIG)
from stages.definition.calendar import WorkCalendar
from stages.ground.errors import CalendarError, ConfigError, DeadlinePhraseError
from stages.definition.phrases import Offset, Period, parse_offset, parse_period
from stages.definition.spec import predicates as _gate_predicates
from stages.definition.spec import (
    KIND_OF_TRACK,
    ROLES,
    CycleFile,
    CycleSpec,
    DepartmentsFile,
    GatePredicate,
    ItemSpec,
    LifecycleSpec,
    MilestoneSpec,
)
from stages.definition.yamlio import FileError, YamlDoc, clean, load_yaml

ROLE_OWNERS = ("lead", "coordinator")
MAX_PHRASE = 100  # characters in a deadline phrase or stage window; the longest in the shipped cycle is 33
MAX_GATE_DEPTH = 16  # gates naming gates naming gates …: the shipped cycle goes 2 deep
MAX_GATE_SIZE = 1_000  # predicates one gate evaluates, named sub-gates expanded; the shipped cycle's largest is 3


def _error(message: str, *, file: str | None, line: int | None = None, path: str | None = None,
           expected: str | None = None) -> ConfigError:
    """A ConfigError whose parts are safe on one line: values from the file may hold control characters or be
    a megabyte long."""
    return ConfigError(clean(message, 300), file=file, line=line, path=clean(path, 120) if path else None,
                       expected=clean(expected, 200) if expected else None)


def _dotted(loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _real_loc(loc: tuple, data) -> tuple:
    """The parts of a pydantic error location that are steps into the data. pydantic also puts the branch of a
    union (``str``, ``date``, ``GatePredicate``, ``function-after[…]``) into it; matching names against those
    dropped real keys that merely begin the same way (a key ``stray`` became no path at all)."""
    out = []
    cur = data
    for part in loc:
        if isinstance(cur, dict) and not isinstance(part, bool) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
    return tuple(out)


def _from_validation(exc: ValidationError, doc: YamlDoc) -> ConfigError:
    err = exc.errors(include_url=False)[0]
    kind = err["type"]
    raw_loc = tuple(err["loc"])
    if kind == "missing" and raw_loc:
        parent, key = _real_loc(raw_loc[:-1], doc.data), raw_loc[-1]
        return _error(f"missing key {key!r}", file=doc.file, line=doc.line(*parent), path=_dotted(parent) or None)
    loc = _real_loc(raw_loc, doc.data)
    path = _dotted(loc)
    if kind == "extra_forbidden" and loc:
        return _error(f"unknown key {loc[-1]!r}", file=doc.file, line=doc.line(*loc), path=path,
                      expected="one of the keys documented in stages/spec.py")
    got = err.get("input")
    got_text = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    if len(got_text) > 60:
        got_text = got_text[:57] + "..."
    msg = err["msg"]
    return _error(f"{msg[0].lower() + msg[1:]} (got {got_text})", file=doc.file, line=doc.line(*loc), path=path)


class _Checker:
    def __init__(self, doc: YamlDoc, cf: CycleFile, deps_doc: YamlDoc, dfile: DepartmentsFile, calendar: WorkCalendar):
        self.doc = doc
        self.cf = cf
        self.deps_doc = deps_doc
        self.dfile = dfile
        self.cal = calendar
        self.dept_names: dict[str, str] = {}  # any name → canonical short
        self.stage_ids = [s.id for s in cf.stages]
        self.gate_ids = [g.id for g in cf.gates]
        self.each_tasks: dict[str, list[str]] = {}  # a lead_mode: each task's id → its parts' item keys

    def split_task(self, item_key: str, ref: str, *path) -> None:
        """Refuse a reference to a task that is split per lead unit: name one part, or a gate over the track."""
        if item_key in self.each_tasks:
            parts = self.each_tasks[item_key]
            self.fail(f"task {item_key!r} is split per lead unit (lead_mode: each), so {ref!r} is not one milestone",
                      *path, expected=f"one unit's part ({', '.join(parts[:3])} …), or a gate `all` over the tasks")

    def fail(self, message: str, *path, expected: str | None = None, doc: YamlDoc | None = None):
        d = doc or self.doc
        raise _error(message, file=d.file, line=d.line(*path), path=_dotted(path) or None, expected=expected)

    # -- 2. uniqueness ---------------------------------------------------------------------------------------------
    def unique(self):
        def check(values, path_of, what):
            seen: dict[Any, int] = {}
            for i, v in enumerate(values):
                if v in seen:
                    self.fail(f"duplicate {what} {v!r} (first at index {seen[v]})", *path_of(i))
                seen[v] = i

        check([s.id for s in self.cf.stages], lambda i: ("stages", i, "id"), "stage id")
        check([x.id for x in self.cf.indicators], lambda i: ("indicators", i, "id"), "indicator id")
        check([x.name for x in self.cf.indicators], lambda i: ("indicators", i, "name"), "indicator name")
        check(self.gate_ids, lambda i: ("gates", i, "id"), "gate id")
        check([t.id for t in self.cf.tasks] + (["outline"] if self.cf.outline else []),
              lambda i: ("tasks", i, "id"), "task id")
        check([t.no for t in self.cf.topics], lambda i: ("topics", i, "no"), "topic number")
        for ti, task in enumerate(self.cf.tasks):
            check([m.id for m in task.milestones], lambda i, ti=ti: ("tasks", ti, "milestones", i, "id"), "milestone id")
        for name, lc in self.cf.lifecycles.items():
            check([m.id for m in lc.milestones], lambda i, name=name: ("lifecycles", name, "milestones", i, "id"), "milestone id")
        d = self.dfile.departments
        check([x.id for x in d], lambda i: ("departments", i, "id"), "department id")
        names: dict[str, int] = {}
        for i, dep in enumerate(d):
            for n in (dep.short, dep.name, *dep.aliases):
                if n in names and names[n] != i:
                    self.fail(f"department name {n!r} is used by two departments", "departments", i, doc=self.deps_doc)
                names[n] = i
                self.dept_names[n] = dep.short
            self.dept_names[dep.id] = dep.short
        for gname, members in self.dfile.groups.items():
            for j, m in enumerate(members):
                if m not in self.dept_names:
                    self.fail(f"group member {m!r} is not a department", "groups", gname, j, doc=self.deps_doc)

    # -- 3. references ---------------------------------------------------------------------------------------------
    def dept(self, name: str, *path, allow_group: bool = False) -> str:
        if name in self.dept_names:
            return self.dept_names[name]
        if allow_group and name in self.dfile.groups:
            return name
        known = "、".join(list(dict.fromkeys(self.dept_names.values()))[:6])
        self.fail(f"unknown department {name!r}", *path, expected=f"a unit in departments.yaml, e.g. {known} …")

    def stage(self, sid: str, *path):
        if sid not in self.stage_ids:
            self.fail(f"unknown stage {sid!r}", *path, expected=" / ".join(self.stage_ids))

    def gate(self, gid: str, *path):
        if gid not in self.gate_ids:
            self.fail(f"unknown gate {gid!r}", *path, expected="an id from gates: " + ", ".join(self.gate_ids[:8]))

    def lifecycle(self, name: str, *path) -> LifecycleSpec:
        if name not in self.cf.lifecycles:
            self.fail(f"unknown lifecycle {name!r}", *path, expected=" / ".join(self.cf.lifecycles))
        return self.cf.lifecycles[name]


def _kind_of(value) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (int, float)):
        return "a number"
    return "a " + type(value).__name__


def _included(doc: YamlDoc, key: str, target: Path, load):
    """``load(target)`` for a file the cycle names under ``key``. If that file cannot be read at all (missing,
    a directory, too large …) the error names the cycle file and the line that wrote the path; problems inside
    the file name that file and its line."""
    try:
        return load(target)
    except FileError as exc:
        written = key in doc.data
        note = "" if written else f" (the default, as the file has no {key}: key)"
        raise _error(f"{exc.file}: {exc.message}{note}", file=doc.file, line=doc.line(key) if written else 1,
                     path=key, expected=exc.expected or "a path relative to the cycle file's folder") from None


def _departments_of(ddoc: YamlDoc) -> DepartmentsFile:
    if not isinstance(ddoc.data, dict):
        raise _error("must be a mapping with a 'departments' list", file=ddoc.file, line=1)
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
        raise _error(f"cannot use this calendar extension ({type(exc).__name__}: {exc})",
                     file=clean(os.fsdecode(target)), line=1,
                     expected="years: {YYYY: {notice, holidays: [dates or ranges], workdays: [dates]}}") from None


_NOTICE_SECTIONS = ("organ", "contact", "numbering", "cc", "call_for_tender", "meetings")
# the document kinds the notice settings may configure: stages.paperwork.notices.DEFAULT_DOCUMENTS' keys (a test holds the two
# equal; this module does not import stages.paperwork.notices, which pulls in SQLAlchemy)
NOTICE_KINDS = ("request", "stage_notice", "meeting", "meeting_letter", "call_for_tender", "tender_result",
                "special_plan_registration", "supervision", "monthly_report", "indicator_report")


def _notices_problem(data) -> tuple[tuple, str, str | None] | None:
    """The first thing wrong with notice settings, as (path, what, expected): stages.paperwork.notices.load_config's rules
    (a mapping with the six sections, organ's name, prefix, masthead and office filled in), then the types of the
    values issuing a notice reads, so a bad file fails ``validate`` rather than the first notice."""
    if not isinstance(data, dict):
        return (), "must be a mapping", "the keys " + ", ".join(_NOTICE_SECTIONS)
    for key in _NOTICE_SECTIONS:
        if key not in data:
            return (), f"missing key {key!r}", None
    for key in ("organ", "contact", "meetings", "call_for_tender", "numbering"):
        if not isinstance(data[key], dict):
            return (key,), f"must be a mapping, not {_kind_of(data[key])}", "key: value lines under it"
    if data["cc"] is not None and not isinstance(data["cc"], dict):
        return ("cc",), "must be a mapping of notice kind to 抄送 list", "default: …, monthly_report: …"
    for key in ("name", "prefix", "masthead", "office"):
        if not data["organ"].get(key):
            return ("organ",), f"missing key {key!r}", None
        if not isinstance(data["organ"][key], str):
            return ("organ", key), "must be text", "e.g. prefix: 长发改"
    first = data["numbering"].get("first")
    if first is not None:
        if not isinstance(first, dict):
            return ("numbering", "first"), "must be a mapping of year to first number", "2019: 25"
        for year, n in first.items():
            if not isinstance(year, int) or isinstance(n, bool) or not isinstance(n, int) or n < 1:
                return ("numbering", "first", year), "must map a year to a first number ≥ 1", "2019: 25"
    mode = data["numbering"].get("mode", "sequence")
    if mode not in ("sequence", "manual"):
        return ("numbering", "mode"), f"numbering mode {mode!r} is not one of sequence, manual", "sequence or manual"
    docs = data.get("documents")
    if docs is not None:
        if not isinstance(docs, dict):
            return ("documents",), "must be a mapping of document kind → settings", "request: {genre: 请示}"
        for kind, settings in docs.items():
            if kind not in NOTICE_KINDS:
                return ("documents", kind), f"unknown document kind {kind!r}", ", ".join(NOTICE_KINDS)
            if settings is not None and not isinstance(settings, dict):
                return ("documents", kind), "must be a mapping of settings", "{genre: 通知, to: …}"
            to = (settings or {}).get("to")
            if to is not None and not isinstance(to, str):
                return ("documents", kind, "to"), "must be text (the 主送 line)", "to: 各有关部门"
            day = (settings or {}).get("day")
            if kind == "monthly_report" and day is not None and (isinstance(day, bool) or not isinstance(day, int)
                                                                 or not 1 <= day <= 28):
                return ("documents", kind, "day"), "must be a day of the month from 1 to 28", "day: 25"
    unnumbered = data["numbering"].get("unnumbered")
    if unnumbered is not None and not isinstance(unnumbered, list):
        return ("numbering", "unnumbered"), "must be a list of notice kinds", "[call_for_tender]"
    if not isinstance(data["meetings"].get("place"), str):
        return ("meetings", "place"), "must name the default meeting place", "place: 第一会议室"
    days = data["meetings"].get("materials_days_before", 3)
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        return ("meetings", "materials_days_before"), "must be a number of working days", "a whole number ≥ 0"
    cft = data["call_for_tender"]
    days = cft.get("apply_within_workdays")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        return ("call_for_tender", "apply_within_workdays"), "must be a number of working days", "a whole number ≥ 1"
    until = cft.get("apply_until")
    if not (isinstance(until, str) and len(until) <= 5 and until.count(":") == 1
            and all(p.isdigit() for p in until.split(":"))):
        return ("call_for_tender", "apply_until"), "must be a time of day", 'a quoted time such as "17:00"'
    return None


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
        said = "the default notice settings" if not cf.notices else "notices: names the default settings"
        raise _error(f"{said} ({NOTICES_DEFAULT.relative_to(NOTICES_DEFAULT.parent.parent)}) "
                     f"are {organ}'s, not an office of {cf.district}", file=doc.file, line=doc.line("issuer"), path="notices",
                     expected="notices: a file with this issuer's organ (name, 发文机关代字 prefix, masthead, office), "
                              "contact and register — see docs/cycle-schema.md, Notice settings")


def load_cycle(path: str | bytes | os.PathLike, calendar: WorkCalendar | None = None) -> CycleSpec:
    path = Path(os.fsdecode(path))
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise _error(f"the top level is {_kind_of(doc.data)}, not a mapping", file=doc.file, line=1,
                     expected="keys id, version, title, stages, lifecycles …")
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


# -- resolution ------------------------------------------------------------------------------------------------------
def _resolve(ck: _Checker) -> tuple[list[ItemSpec], dict[str, LifecycleSpec]]:
    cf = ck.cf
    ck.dept(cf.coordinator, "coordinator")

    # stage windows
    windows: dict[str, Period] = {}
    stages = []
    for i, st in enumerate(cf.stages):
        if (st.window is None) == (st.start is None and st.end is None) or (st.start is None) != (st.end is None):
            ck.fail("a stage needs either window (a period phrase) or both start and end (dates)", "stages", i,
                    expected="window: 2019年, or start: 2024-06-01 with end: 2024-12-31")
        if st.window is None:
            if st.start > st.end:
                ck.fail(f"stage {st.id!r} starts {st.start} after it ends {st.end}", "stages", i, "end")
            per = Period(st.start, st.end)
        else:
            _phrase_length(ck, st.window, "stages", i, "window")
            try:
                per = parse_period(st.window)
            except DeadlinePhraseError as exc:
                ck.fail(str(exc), "stages", i, "window", expected="a period such as 2019年 or 2021年上半年")
        windows[st.id] = per
        if st.exit_gate:
            ck.gate(st.exit_gate, "stages", i, "exit_gate")
        stages.append(st.model_copy(update={"start_date": per.start, "end_date": per.end}))
    for a, b in zip(stages, stages[1:]):
        if b.start_date <= a.end_date:
            ck.fail(f"stage {b.id!r} starts {b.start_date} before stage {a.id!r} ends {a.end_date}",
                    "stages", stages.index(b), "window", expected="stage windows in order, not overlapping")
    ck.stages = tuple(stages)

    # required lifecycles: topics need the topic lifecycle; the special-plan track is there when its lifecycle is
    if cf.topics and "topic" not in cf.lifecycles:
        ck.fail("no lifecycle 'topic' for the topics track", "lifecycles", expected="lifecycles.topic")
    if cf.outline:
        ck.lifecycle(cf.outline.lifecycle, "outline", "lifecycle")
    for name, lc in cf.lifecycles.items():
        ck.stage(lc.stage, "lifecycles", name, "stage")

    # raw items: (key, kind, stage, milestones, yaml path of milestones, fields)
    raw: list[dict] = []
    topic_prefix = _key_prefix(cf, "topic")
    for i, tp in enumerate(cf.topics):
        lead = tuple(ck.dept(d, "topics", i, "lead", j) for j, d in enumerate(tp.lead))
        coop = tuple(ck.dept(d, "topics", i, "cooperating", j, allow_group=True) for j, d in enumerate(tp.cooperating))
        lc = cf.lifecycles["topic"]
        mode = "open_call" if tp.open_call else "direct_commission"
        ref = tp.ref or (lc.ref.replace("{no}", str(tp.no)) if lc.ref else None)
        raw.append(dict(key=f"{topic_prefix}{tp.no:02d}", kind="topic", title=tp.title, stage=lc.stage, lead=lead,
                        cooperating=coop, no=tp.no, focus=tp.focus, open_call=tp.open_call,
                        ref=ref, mode=mode, ms=lc.milestones, ms_path=("lifecycles", "topic", "milestones")))
    _schema_2(ck)
    _check_indicators(ck)
    _check_special_plans(ck)
    for i, task in enumerate(cf.tasks):
        ck.stage(task.stage, "tasks", i, "stage")
        each = task.lead_mode == "each"
        lead = tuple(ck.dept(d, "tasks", i, "lead", j, allow_group=each) for j, d in enumerate(task.lead))
        coop = tuple(ck.dept(d, "tasks", i, "cooperating", j, allow_group=True) for j, d in enumerate(task.cooperating))
        if not each:
            raw.append(dict(key=task.id, kind="task", title=task.title, stage=task.stage, lead=lead, cooperating=coop,
                            ref=task.ref, text=task.text, domain=task.domain, mode=None, ms=task.milestones,
                            ms_path=("tasks", i, "milestones")))
            continue
        # every lead unit (a group: each of its members) owes its own part: one item per unit
        units: list[str] = []
        for u in lead:
            members = [ck.dept_names[x] for x in ck.dfile.groups[u]] if u in ck.dfile.groups else [u]
            units += [x for x in members if x not in units]
        ck.each_tasks[task.id] = []
        by_short = {d.short: d for d in ck.dfile.departments}
        for u in units:
            key = f"{task.id}.{by_short[u].id}"
            ck.each_tasks[task.id].append(key)
            raw.append(dict(key=key, kind="task", title=task.title, stage=task.stage, lead=(u,),
                            cooperating=tuple(x for x in units if x != u) + coop, ref=task.ref, text=task.text,
                            domain=task.domain, mode=None, ms=task.milestones, ms_path=("tasks", i, "milestones"),
                            part_of=task.id))
    if cf.reporting is not None:
        raw.extend(_reporting_items(ck, raw, stages))
    if cf.outline:
        lc = cf.lifecycles[cf.outline.lifecycle]
        lead = tuple(ck.dept(d, "outline", "lead", j) for j, d in enumerate(cf.outline.lead))
        coop = tuple(ck.dept(d, "outline", "cooperating", j, allow_group=True) for j, d in enumerate(cf.outline.cooperating))
        raw.append(dict(key="outline", kind="outline", title=cf.outline.title, stage=lc.stage, lead=lead,
                        cooperating=coop, mode=None, ms=lc.milestones,
                        ms_path=("lifecycles", cf.outline.lifecycle, "milestones")))
    # special plans (when the cycle has the track): a template "item" so that its milestones are checked and dated
    # once
    sp = cf.lifecycles.get("special_plan")
    if sp is not None:
        raw.append(dict(key="special_plans", kind="special_plan", title="(专项规划 template)", stage=sp.stage, lead=(),
                        cooperating=(), mode=None, ms=sp.milestones,
                        ms_path=("lifecycles", "special_plan", "milestones"), template=True))
    _check_item_keys(ck, raw)

    by_key = {r["key"]: r for r in raw}
    track_items = {"topics": [r for r in raw if r["kind"] == "topic"], "tasks": [r for r in raw if r["kind"] == "task"],
                   "outline": [r for r in raw if r["kind"] == "outline"],
                   "special_plans": [by_key["special_plans"]] if sp is not None else []}

    # per item: filter only_for, check owners/stages/gates, resolve deps
    for r in raw:
        kept, deps_of = [], {}
        ids = [m.id for m in r["ms"]]
        names = {m.name: m.id for m in r["ms"]}
        r["names"] = names
        for idx, m in enumerate(r["ms"]):
            p = r["ms_path"] + (idx,)
            if m.owner not in ROLE_OWNERS:
                ck.dept(m.owner, *p, "owner")
            stage = m.stage or r["stage"]
            ck.stage(stage, *p, "stage")
            for attr in ("opens_when", "accept_requires", "completes_when"):
                if getattr(m, attr):
                    ck.gate(getattr(m, attr), *p, attr)
            if m.meeting is not None and r["kind"] != "topic":
                ck.fail(f"milestone {m.id!r} has a meeting, but review meetings are scheduled for topics only "
                        "(`plancycle meeting` gathers the topics still to hold it)", *p, "meeting",
                        expected="meeting: on a milestone of lifecycles.topic")
            if m.opens_when and not next(g for g in cf.gates if g.id == m.opens_when).automatic:
                ck.fail(f"milestone {m.id!r} opens when gate {m.opens_when!r} is met, but that gate is not automatic: "
                        "nothing would ever open it", *p, "opens_when",
                        expected=f"automatic: true on gate {m.opens_when!r}, or after: instead of opens_when")
            if m.after is None:
                deps = (ids[idx - 1],) if idx > 0 else ()
            else:
                deps = []
                for j, ref in enumerate(m.after):
                    deps.append(_ref(ck, r, ref, by_key, p + ("after", j)))
                deps = tuple(deps)
            if m.only_for and r["kind"] != "topic":
                ck.fail("only_for applies to topic milestones only", *p, "only_for")
            if m.optional and (m.role or m.completes_when or m.opens_when):
                what = "role" if m.role else ("completes_when" if m.completes_when else "opens_when")
                ck.fail(f"optional milestone {m.id!r} also has {what}: an optional milestone happens only when "
                        "`plancycle trigger` says so", *p, what, expected=f"optional: true or {what}, not both")
            if m.condition and not m.optional:
                ck.fail(f"milestone {m.id!r} has a condition but is not optional", *p, "condition",
                        expected="optional: true with condition:")
            deps_of[m.id] = deps
            if m.only_for and r["mode"] and m.only_for != r["mode"]:
                continue  # excluded for this item; dependents inherit its deps below
            kept.append((idx, m, stage))
        excluded = {m.id for m in r["ms"]} - {m.id for _, m, _ in kept}
        expand = _inherited_deps(ck, r, deps_of, excluded)
        r["kept"] = [(idx, m, stage, expand(deps_of[m.id])) for idx, m, stage in kept]

    _check_gates(ck, by_key, track_items)
    _check_cycles(ck, raw, by_key)
    dates = _resolve_dates(ck, raw, by_key, windows)
    roles = _roles(ck, raw)

    items: list[ItemSpec] = []
    lifecycles: dict[str, LifecycleSpec] = {}
    for r in raw:
        ms_out = []
        for idx, m, stage, deps in r["kept"]:
            start, due, time = dates[(r["key"], m.id)]
            ms_out.append(m.model_copy(update={"stage": stage, "deps": deps, "due_date": due, "due_time": time,
                                               "start_date": start, "role": roles.get((r["key"], m.id), m.role)}))
        if r.get("template"):
            lc = cf.lifecycles["special_plan"]
            lifecycles["special_plan"] = lc.model_copy(update={"milestones": tuple(ms_out)})
            continue
        items.append(ItemSpec(key=r["key"], kind=r["kind"], title=r["title"], stage=r["stage"], lead=r["lead"],
                              cooperating=r["cooperating"], milestones=tuple(ms_out), ref=r.get("ref"),
                              no=r.get("no"), focus=r.get("focus"), open_call=r.get("open_call"), text=r.get("text"),
                              domain=r.get("domain"), part_of=r.get("part_of")))
    first_topic = next((r["key"] for r in raw if r["kind"] == "topic"), None)
    for name, lc in cf.lifecycles.items():
        if name == "topic" and first_topic is not None:  # the roles derived for the topics, on their lifecycle too
            lc = lc.model_copy(update={"milestones": tuple(
                m.model_copy(update={"role": roles.get((first_topic, m.id), m.role)}) for m in lc.milestones)})
        lifecycles.setdefault(name, lc)

    # timeline rows: each names items, milestones or tracks that exist, and covers at least one dated milestone
    by_item = {it.key: it for it in items}
    for i, row in enumerate(cf.timeline):
        ck.stage(row.stage, "timeline", i, "stage")
        for j, cov in enumerate(row.covers):
            item_key, _, mid = cov.partition(":")
            if item_key in KIND_OF_TRACK:
                kind = KIND_OF_TRACK[item_key]
                if kind == "special_plan":
                    lc = lifecycles.get("special_plan")
                    pool = [m.id for m in lc.milestones] if lc else []
                else:
                    pool = [m.id for it in items if it.kind == kind for m in it.milestones]
                if not pool:
                    ck.fail(f"timeline row covers track {item_key!r}, which has no items in this cycle", "timeline", i,
                            "covers", j, expected="a track the cycle has, an item key or item:milestone")
            elif item_key in by_item:
                pool = [m.id for m in by_item[item_key].milestones]
            elif item_key in ck.each_tasks:  # a task split per lead unit: its parts
                pool = [m.id for k in ck.each_tasks[item_key] for m in by_item[k].milestones]
            else:
                ck.fail(f"timeline row covers unknown item {cov!r}", "timeline", i, "covers", j,
                        expected="an item key, item:milestone, or a track name")
            if mid and mid not in pool:
                ck.fail(f"timeline row covers {cov!r}, but {item_key!r} has no milestone {mid!r}", "timeline", i,
                        "covers", j, expected=", ".join(dict.fromkeys(pool)))
    # funding
    total = 0.0
    topic_ms = {m.id for m in cf.lifecycles["topic"].milestones} if "topic" in cf.lifecycles else set()
    for i, f in enumerate(cf.funding):
        if f.milestone not in topic_ms:
            ck.fail(f"funding tranche on unknown topic milestone {f.milestone!r}", "funding", i, "milestone",
                    expected=" / ".join(sorted(topic_ms)))
        total += f.share
    if cf.funding and abs(total - 1.0) > 1e-9:
        ck.fail(f"funding shares add up to {total:g}", "funding", expected="shares adding up to 1")
    return items, lifecycles


def _schema_2(ck: _Checker) -> None:
    """What schema 2 added is refused in a file that says (or leaves) schema 1: the file states the shape it has."""
    cf = ck.cf
    if cf.schema_ >= 2:
        return
    if cf.reporting is not None:
        ck.fail("reporting: needs schema: 2", "reporting", expected="schema: 2 at the top of the file")
    for key in ("indicators", "special_plans"):
        if getattr(cf, key):
            ck.fail(f"{key}: needs schema: 2", key, expected="schema: 2 at the top of the file")
    def milestones(path, ms):
        for j, m in enumerate(ms):
            for key, value in (("targets", m.targets), ("optional", m.optional), ("condition", m.condition)):
                if value:
                    ck.fail(f"{key}: needs schema: 2", *path, j, key, expected="schema: 2 at the top of the file")

    for i, task in enumerate(cf.tasks):
        if task.domain is not None:
            ck.fail("domain: needs schema: 2", "tasks", i, "domain", expected="schema: 2 at the top of the file")
        if task.lead_mode != "first":
            ck.fail("lead_mode: needs schema: 2", "tasks", i, "lead_mode", expected="schema: 2 at the top of the file")
        milestones(("tasks", i, "milestones"), task.milestones)
    for name, lc in cf.lifecycles.items():
        milestones(("lifecycles", name, "milestones"), lc.milestones)


def _check_special_plans(ck: _Checker) -> None:
    """Listed 专项规划 need the special-plan lifecycle, known units and distinct titles."""
    seen: dict[str, int] = {}
    for i, sp in enumerate(ck.cf.special_plans):
        if "special_plan" not in ck.cf.lifecycles:
            ck.fail("special plans are listed but the cycle has no special-plan lifecycle", "special_plans",
                    expected="lifecycles.special_plan, or no special_plans")
        for j, d in enumerate(sp.lead):
            ck.dept(d, "special_plans", i, "lead", j)
        for j, d in enumerate(sp.cooperating):
            ck.dept(d, "special_plans", i, "cooperating", j, allow_group=True)
        if sp.title.strip() in seen:
            ck.fail(f"special plan {sp.title!r} is listed twice (first at index {seen[sp.title.strip()]})",
                    "special_plans", i, "title")
        seen[sp.title.strip()] = i


def _check_indicators(ck: _Checker) -> None:
    """Indicators: lead units exist; a base has its year, a target its year, after the base's; a ``level`` is
    judged on the path from base to target, so it needs both (a ``yearly`` figure needs the target only)."""
    for i, ind in enumerate(ck.cf.indicators):
        for j, d in enumerate(ind.lead):
            ck.dept(d, "indicators", i, "lead", j)
        if (ind.base is None) != (ind.base_year is None):
            ck.fail(f"indicator {ind.id!r} needs base and base_year together", "indicators", i,
                    "base" if ind.base is None else "base_year", expected="base: 1.2 with base_year: 2020")
        if (ind.target is None) != (ind.target_year is None):
            ck.fail(f"indicator {ind.id!r} needs target and target_year together", "indicators", i,
                    "target" if ind.target is None else "target_year", expected="target: 1.5 with target_year: 2025")
        if ind.base_year is not None and ind.target_year is not None and ind.target_year <= ind.base_year:
            ck.fail(f"indicator {ind.id!r}: target year {ind.target_year} is not after base year {ind.base_year}",
                    "indicators", i, "target_year")
        if ind.measure == "level" and ind.target is not None and ind.base is None:
            ck.fail(f"indicator {ind.id!r} is a level judged on the path from its base to its target, but has no "
                    "base", "indicators", i, expected="base and base_year, or measure: yearly")


def _periods(rep) -> list[tuple[int, int]]:
    y0, m0 = (int(x) for x in rep.start.split("-"))
    y1, m1 = (int(x) for x in rep.end.split("-"))
    out = []
    y, m = y0, m0
    while (y, m) <= (y1, m1):
        if rep.every == "month" or (rep.every == "quarter" and m % 3 == 0) or (rep.every == "year" and m == 12):
            out.append((y, m))
        y, m = (y + (m == 12), m % 12 + 1)
    return out


def _reporting_items(ck: _Checker, raw: list[dict], stages) -> list[dict]:
    """The reporting rhythm as items: one per lead unit of the tasks, one milestone per period."""
    import calendar as _cal

    rep = ck.cf.reporting
    for key in ("start", "end"):
        y, m = (int(x) for x in getattr(rep, key).split("-"))
        if not 1 <= m <= 12:
            ck.fail(f"month {getattr(rep, key)!r} does not exist", "reporting", key, expected="YYYY-MM")
    periods = _periods(rep)
    if not periods:
        ck.fail(f"no period between {rep.start} and {rep.end}", "reporting", expected="start no later than end")
    for key in ("title", "name"):
        text = getattr(rep, key)
        for field in re.findall(r"{([^}]*)}", text):
            if field not in ("unit", "year", "month", "quarter"):
                ck.fail(f"unknown placeholder {{{field}}} in {key}", "reporting", key,
                        expected="{unit} in title; {year}, {month}, {quarter} in name")
    units: list[str] = []
    if rep.reporters == "indicator_leads":
        if not ck.cf.indicators:
            ck.fail("reporting by the indicators' lead units, but the cycle has no indicators", "reporting",
                    "reporters", expected="indicators: with lead units, or reporters: task_leads")
        for i, ind in enumerate(ck.cf.indicators):
            units += [u for u in (ck.dept(d, "indicators", i, "lead", j) for j, d in enumerate(ind.lead))
                      if u not in units]
    else:
        for r in raw:
            if r["kind"] == "task":
                units += [u for u in r["lead"] if u not in units]
    if not units:
        ck.fail("nobody reports: no task or indicator names a lead unit", "reporting", "reporters")
    milestones = []
    for y, m in periods:
        if rep.every == "year":  # the report on year y is due in due_month of the next year
            dy, dm = y + 1, rep.due_month
            period, mid, start = str(y), f"y{y}", dt.date(y, 12, 1)
        else:
            dy, dm = y, m
            period = f"{y}-{m:02d}" if rep.every == "month" else f"{y}-Q{(m + 2) // 3}"
            mid, start = f"m{y}{m:02d}", dt.date(y, m, 1)
        due = dt.date(dy, dm, min(rep.day, _cal.monthrange(dy, dm)[1]))
        stage = next((st.id for st in stages if st.start_date <= due <= st.end_date), None)
        if stage is None:
            ck.fail(f"the report due {due} lies in no stage's window", "reporting",
                    expected="start and end months inside the cycle's stages")
        name = rep.name.replace("{year}", str(y)).replace("{month}", str(m)).replace("{quarter}", str((m + 2) // 3))
        milestones.append(MilestoneSpec(id=mid, name=name, due=due, start=start, stage=stage,
                                        deliverables=rep.deliverables, period=period))
    out = []
    by_short = {d.short: d for d in ck.dfile.departments}
    for unit in units:
        d = by_short[unit]
        out.append(dict(key=f"{rep.key_prefix}{d.id}", kind="task", title=rep.title.replace("{unit}", unit),
                        stage=milestones[0].stage, lead=(unit,), cooperating=(), ref=None,
                        text=f"于每期{rep.day}日前报送" + (f"{rep.to}" if rep.to else ""), mode=None,
                        ms=tuple(milestones), ms_path=("reporting",), reporting=True))
    return out


def _key_prefix(cf: CycleFile, lifecycle: str) -> str:
    lc = cf.lifecycles.get(lifecycle)
    return lc.key_prefix if lc is not None and lc.key_prefix else lifecycle.replace("_", "-") + "-"


def _check_item_keys(ck: _Checker, raw: list[dict]) -> None:
    """Items have distinct keys: a task id may not be a topic's key (topic-03), nor look like the key a proposed
    special plan gets (special-plan-01, or the lifecycle's key_prefix followed by digits)."""
    seen: dict[str, dict] = {}
    sp_prefix = _key_prefix(ck.cf, "special_plan") if "special_plan" in ck.cf.lifecycles else None
    for r in raw:
        if r.get("template"):
            continue
        if r["key"] in seen:
            ck.fail(f"item key {r['key']!r} is used twice (a task id equal to a topic's key?)", *r["ms_path"][:2],
                    expected="task ids other than the topics' keys")
        seen[r["key"]] = r
        if sp_prefix and r["kind"] != "special_plan" and r["key"].startswith(sp_prefix) \
                and r["key"][len(sp_prefix):].isdigit():
            ck.fail(f"item key {r['key']!r} looks like a proposed special plan's key ({sp_prefix}NN)",
                    *r["ms_path"][:2], expected="another task id, or another key_prefix on lifecycles.special_plan")


# where each role may be, and what it is derived from when the file names none (docs/cycle-schema.md, Roles)
_ROLE_PLACE = ROLES


def _roles(ck: _Checker, raw: list[dict]) -> dict[tuple[str, str], str]:
    """The role of every milestone that plays one, by (item key, milestone id) — ``special_plans`` standing for
    the special-plan lifecycle. As written (``role:``), checked for its place and given once only; else derived
    from the file's structure, so files written before roles existed keep working:

    * ``contractor_choice``: the topic lifecycle's milestone that only tendered topics have (``only_for:
      open_call``): choosing a contractor is what a call for tender leads to;
    * ``registration``: the first special-plan milestone after the proposal that the coordinator owns: the
      departments propose, the coordinator confirms;
    * ``special_plan_confirmation``: the task milestone completed by a gate that waits for every special plan's
      registration.
    """
    cf = ck.cf
    where_zh = {"topic": "the topic lifecycle", "special_plan": "the special_plan lifecycle", "task": "a task"}
    found: dict[str, tuple[str | None, str]] = {}  # role → (task key or None, milestone id)
    first_at: dict[str, tuple] = {}

    def note(role: str, place: str, task: str | None, mid: str, path: tuple) -> None:
        if _ROLE_PLACE[role] != place:
            ck.fail(f"role {role!r} belongs on a milestone of {where_zh[_ROLE_PLACE[role]]}", *path, "role")
        if role in found:
            ck.fail(f"role {role!r} is given twice (first at {_dotted(first_at[role])})", *path, "role",
                    expected="one milestone per role")
        found[role] = (task, mid)
        first_at[role] = path

    for name, lc in cf.lifecycles.items():
        place = name if name in ("topic", "special_plan") else "other lifecycles"
        for idx, m in enumerate(lc.milestones):
            if m.role:
                note(m.role, place, None, m.id, ("lifecycles", name, "milestones", idx))
    for ti, task in enumerate(cf.tasks):
        for idx, m in enumerate(task.milestones):
            if m.role:
                note(m.role, "task", task.id, m.id, ("tasks", ti, "milestones", idx))
    # derived, for the roles the file does not write
    if "contractor_choice" not in found and "topic" in cf.lifecycles:
        m = next((m for m in cf.lifecycles["topic"].milestones if m.only_for == "open_call"), None)
        if m is not None:
            found["contractor_choice"] = (None, m.id)
    if "registration" not in found and "special_plan" in cf.lifecycles:
        m = next((m for m in cf.lifecycles["special_plan"].milestones[1:] if m.owner == "coordinator"), None)
        if m is not None:
            found["registration"] = (None, m.id)
    if "special_plan_confirmation" not in found and "registration" in found:
        reg = found["registration"][1]
        for task in cf.tasks:
            m = next((m for m in task.milestones if m.completes_when
                      and ("special_plans", reg) in gate_milestone_refs(cf.gates, m.completes_when)), None)
            if m is not None:
                found["special_plan_confirmation"] = (task.id, m.id)
                break
    out: dict[tuple[str, str], str] = {}
    for role, (task, mid) in found.items():
        if role == "contractor_choice":
            out.update({(r["key"], mid): role for r in raw if r["kind"] == "topic"})
        elif role == "registration":
            out[("special_plans", mid)] = role
        else:
            out[(task, mid)] = role
    return out


def _phrase_length(ck: _Checker, text, *path) -> None:
    """Deadline phrases are short (the longest in the shipped cycle is 33 characters); a long one is a mistake,
    and the phrase parser's patterns are not meant for 100 KB of input (a run of spaces took seconds)."""
    if isinstance(text, str) and len(text) > MAX_PHRASE:
        ck.fail(f"the deadline phrase is {len(text):,} characters long", *path,
                expected=f"at most {MAX_PHRASE}, e.g. 2019年6月上旬 or 开题 + 10 个工作日")


def _inherited_deps(ck: _Checker, r: dict, deps_of: dict, excluded: set):
    """``expand(deps)``: deps with every milestone excluded for this item (only_for) replaced by what it waits
    for, transitively. Iterative and memoised: excluded milestones waiting for each other in a circle are a
    dependency cycle (reported), and a long chain of them is no RecursionError."""
    done: dict[str, tuple] = {}
    index = {m.id: i for i, m in enumerate(r["ms"])}

    def resolve(d: str) -> tuple:
        if d in done:
            return done[d]
        path = [d]
        stack = [(d, iter(deps_of[d]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                out = []
                for x in deps_of[node]:
                    out.extend(done[x] if x in excluded else (x,))
                done[node] = tuple(dict.fromkeys(out))
                stack.pop()
                path.pop()
                continue
            if nxt not in excluded or nxt in done:
                continue
            if nxt in path:
                cyc = path[path.index(nxt):] + [nxt]
                ck.fail("dependency cycle: " + " → ".join(f"{r['key']}:{x}" for x in cyc), *r["ms_path"], index[nxt],
                        expected="milestones that depend on earlier ones only")
            path.append(nxt)
            stack.append((nxt, iter(deps_of[nxt])))
        return done[d]

    def expand(ds) -> tuple:
        out = []
        for d in ds:
            out.extend(resolve(d) if d in excluded else (d,))
        return tuple(dict.fromkeys(out))

    return expand


def _ref(ck: _Checker, r: dict, ref: str, by_key: dict, path: tuple) -> str:
    """A milestone reference inside item ``r``: an id or name of its own, or ``item:milestone`` across items."""
    if ":" in ref:
        item_key, mid = ref.split(":", 1)
        other = by_key.get(item_key)
        ck.split_task(item_key, ref, *path)
        if other is None or other.get("template"):
            ck.fail(f"unknown item {item_key!r} in {ref!r}", *path, expected=f"a task id, {_key_prefix(ck.cf, 'topic')}NN or outline")
        ids = {m.id for m in other["ms"]}
        names = {m.name: m.id for m in other["ms"]}
        if mid in ids:
            return f"{item_key}:{mid}"
        if mid in names:
            return f"{item_key}:{names[mid]}"
        ck.fail(f"item {item_key!r} has no milestone {mid!r}", *path, expected=", ".join(sorted(ids)))
    ids = [m.id for m in r["ms"]]
    names = {m.name: m.id for m in r["ms"]}
    if ref in ids:
        return ref
    if ref in names:
        return names[ref]
    ck.fail(f"unknown milestone {ref!r}", *path, expected="one of " + ", ".join(ids))


def gate_milestone_refs(spec_gates, gid: str, _seen=()) -> list[tuple[str, str]]:
    """(item-or-track, milestone) pairs a gate depends on; follows named sub-gates, each once."""
    by_id = {g.id: g for g in spec_gates}
    out: list[tuple[str, str]] = []
    seen = set(_seen)
    todo = [gid]
    while todo:
        g = todo.pop()
        if g in seen:
            continue
        seen.add(g)
        for p in _gate_predicates(by_id[g]):
            if p.milestone:
                out.append(tuple(p.milestone.split(":", 1)))
            if p.all:
                out.append((p.all.track, p.all.milestone))
            if p.at_least:
                out.append((p.at_least.track, p.at_least.milestone))
            todo.extend(sub for sub in reversed((p.all_of or ()) + (p.any_of or ())) if isinstance(sub, str))
    return out


def _gate_refs(pred: GatePredicate, path: tuple) -> list[tuple[tuple, str]]:
    """(yaml path, gate id) of every named sub-gate in a gate, inline predicates included."""
    out = []
    todo = [(pred, path)]
    while todo:
        p, where = todo.pop(0)
        for key in ("all_of", "any_of"):
            for j, sub in enumerate(getattr(p, key) or ()):
                if isinstance(sub, str):
                    out.append((where + (key, j), sub))
                else:
                    todo.append((sub, where + (key, j)))
    return out


def _check_gate_graph(ck: "_Checker") -> None:
    """Gates naming each other (``all_of`` / ``any_of``) form no loop, no chain deeper than MAX_GATE_DEPTH, and
    no gate that expands to more than MAX_GATE_SIZE predicates: stages.rules.gates evaluates named sub-gates by
    recursion, every time, so a loop is a RecursionError at ``init`` and a diamond of 30 gates each naming the
    next twice is 2³⁰ evaluations per sweep."""
    gates = ck.cf.gates
    index = {g.id: i for i, g in enumerate(gates)}
    refs = {g.id: _gate_refs(g, ("gates", i)) for i, g in enumerate(gates)}
    own = {g.id: sum(1 for _ in _gate_predicates(g)) for g in gates}
    # iterative depth-first search in file order; the first loop found is reported from its first gate
    WHITE, GREY, BLACK = 0, 1, 2
    color = {g.id: WHITE for g in gates}
    depth: dict[str, int] = {}
    size: dict[str, int] = {}
    for g in gates:
        if color[g.id] != WHITE:
            continue
        color[g.id] = GREY
        stack = [(g.id, iter(refs[g.id]))]
        while stack:
            gid, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[gid] = BLACK
                stack.pop()
                subs = [sub for _w, sub in refs[gid]]
                depth[gid] = 1 + max((depth[sub] for sub in subs), default=0)
                size[gid] = own[gid] + sum(size[sub] for sub in subs)
                if depth[gid] > MAX_GATE_DEPTH:
                    ck.fail(f"gate {gid!r} names gates {depth[gid]} deep", "gates", index[gid],
                            expected=f"at most {MAX_GATE_DEPTH} levels of gates naming gates")
                if size[gid] > MAX_GATE_SIZE:
                    ck.fail(f"gate {gid!r} expands to {size[gid]:,} predicates once the gates it names are "
                            f"spelled out", "gates", index[gid],
                            expected=f"at most {MAX_GATE_SIZE:,}: name a shared gate once, not in every branch")
                continue
            where, sub = nxt
            if color[sub] == GREY:
                loop = [x for x, _ in stack]
                loop = loop[loop.index(sub):]
                first = loop[0]
                # report at the reference in the loop's first gate that starts the loop
                start_where = next(w for w, ref in refs[first] if ref == (loop[1] if len(loop) > 1 else first))
                through = " → ".join(loop[1:] + [first])
                msg = (f"gate {first!r} refers to itself through {through}" if len(loop) > 1
                       else f"gate {first!r} refers to itself")
                ck.fail(msg, *start_where, expected="gates that name only gates which do not name them back")
            if color[sub] == WHITE:
                color[sub] = GREY
                stack.append((sub, iter(refs[sub])))


def _check_gates(ck: _Checker, by_key: dict, track_items: dict):
    cf = ck.cf
    for gi, gate in enumerate(cf.gates):
        for p in _gate_predicates(gate):
            where = ("gates", gi)
            if not p.kind():
                ck.fail("a gate predicate needs exactly one of milestone, all, at_least, approval, all_of, any_of",
                        *where)
            for sub in (p.all_of or ()) + (p.any_of or ()):
                if isinstance(sub, str):
                    ck.gate(sub, *where)
                    if sub == gate.id:
                        ck.fail(f"gate {gate.id!r} refers to itself", *where)
            if p.approval and p.approval.body not in cf.approval_bodies:
                ck.fail(f"unknown approval body {p.approval.body!r}", *where, "approval", "body",
                        expected=" / ".join(cf.approval_bodies))
            if p.milestone:
                if ":" not in p.milestone:
                    ck.fail(f"{p.milestone!r} names no item", *where, "milestone", expected="item:milestone")
                item_key, mid = p.milestone.split(":", 1)
                r = by_key.get(item_key)
                ck.split_task(item_key, p.milestone, *where, "milestone")
                if r is None or r.get("template"):
                    ck.fail(f"unknown item {item_key!r}", *where, "milestone", expected=f"a task id, {_key_prefix(ck.cf, 'topic')}NN or outline")
                if mid not in {m.id for m in r["ms"]}:
                    ck.fail(f"item {item_key!r} has no milestone {mid!r}", *where, "milestone",
                            expected=", ".join(m.id for m in r["ms"]))
            for key in ("all", "at_least"):
                q = getattr(p, key)
                if q is None:
                    continue
                members = track_items[q.track]
                if q.track == "special_plans" and "special_plan" not in cf.lifecycles:
                    ck.fail("no lifecycle 'special_plan' for the special_plans track this gate waits for", *where, key,
                            "track", expected="lifecycles.special_plan, or a gate over another track")
                if not any(q.milestone in {m.id for m in r["ms"]} for r in members):
                    ck.fail(f"no item of track {q.track!r} has a milestone {q.milestone!r}; the gate can never open",
                            *where, key, "milestone")
                if key == "at_least" and q.track != "special_plans":
                    having = sum(1 for r in members if q.milestone in {x[1].id for x in r["kept"]})
                    if q.n > having:
                        ck.fail(f"needs {q.n} of {q.track} but only {having} can reach {q.milestone!r}; the gate can "
                                f"never open", *where, key, "n", expected=f"n ≤ {having}")
    _check_gate_graph(ck)


def _check_cycles(ck: _Checker, raw: list[dict], by_key: dict):
    """Milestone graph: deps, and gates (opens_when / completes_when / accept_requires) over what they read."""
    cf = ck.cf
    track_of = {"topics": [r["key"] for r in raw if r["kind"] == "topic"],
                "tasks": [r["key"] for r in raw if r["kind"] == "task"],
                "outline": ["outline"] if "outline" in by_key else [], "special_plans": ["special_plans"]}
    edges: dict[str, set[str]] = {}
    where: dict[str, tuple] = {}
    gate_refs: dict[str, list] = {}
    for r in raw:
        for idx, m, _stage, deps in r["kept"]:
            node = f"{r['key']}:{m.id}"
            where[node] = r["ms_path"] + (idx,)
            e = edges.setdefault(node, set())
            for d in deps:
                e.add(d if ":" in d else f"{r['key']}:{d}")
            for attr in ("opens_when", "completes_when", "accept_requires"):
                gid = getattr(m, attr)
                if not gid:
                    continue
                if gid not in gate_refs:
                    gate_refs[gid] = gate_milestone_refs(cf.gates, gid)
                for target, mid in gate_refs[gid]:
                    for key in track_of.get(target, [target]):
                        if key == r["key"] and mid == m.id and attr != "accept_requires":
                            ck.fail(f"milestone {m.id!r} waits for gate {gid!r}, which waits for {m.id!r} itself",
                                    *where[node], attr)
                        if key == r["key"] and mid == m.id:
                            continue
                        e.add(f"{key}:{mid}")
    # iterative DFS for a cycle
    WHITE, GREY, BLACK = 0, 1, 2
    color = {n: WHITE for n in edges}
    for root in edges:
        if color[root] != WHITE:
            continue
        stack = [(root, iter(sorted(edges[root])))]
        color[root] = GREY
        path = [root]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = BLACK
                stack.pop()
                path.pop()
                continue
            if nxt not in color:
                continue  # milestone excluded for this item (only_for); its deps were inherited
            if color[nxt] == GREY:
                cyc = path[path.index(nxt):] + [nxt]
                ck.fail("dependency cycle: " + " → ".join(cyc), *where.get(nxt, ()),
                        expected="milestones that depend on earlier ones only")
            if color[nxt] == WHITE:
                color[nxt] = GREY
                path.append(nxt)
                stack.append((nxt, iter(sorted(edges[nxt]))))


def _resolve_dates(ck: _Checker, raw: list[dict], by_key: dict, windows: dict[str, Period]):
    """Every milestone's (start, due, time). Offsets resolve after what they reference; cycles are reported."""
    pending: dict[tuple[str, str], tuple] = {}
    dates: dict[tuple[str, str], tuple] = {}
    for r in raw:
        all_ids = {m.id for m in r["ms"]}
        for idx, m, stage, _deps in r["kept"]:
            pending[(r["key"], m.id)] = (r, idx, m, stage, all_ids)
    progress = True
    while pending and progress:
        progress = False
        for key in list(pending):
            r, idx, m, stage, all_ids = pending[key]
            p = r["ms_path"] + (idx,)
            year = windows[stage].start.year
            _phrase_length(ck, m.due, *p, "due")
            _phrase_length(ck, m.start, *p, "start")
            off = parse_offset(m.due) if isinstance(m.due, str) else None
            if off is not None:
                ref = _ref(ck, r, off.ref, by_key, p + ("due",))
                rkey = tuple(ref.split(":", 1)) if ":" in ref else (r["key"], ref)
                if rkey not in dates:
                    if rkey not in pending:
                        ck.fail(f"offset refers to {off.ref!r}, which this item does not have", *p, "due")
                    continue
                base = dates[rkey][1]
                try:
                    due = ck.cal.add_workdays(base, off.n) if off.workdays else base + dt.timedelta(days=off.n)
                except CalendarError as exc:
                    ck.fail(str(exc), *p, "due")
                except OverflowError:
                    ck.fail(f"{off.n:+} days from {base} is past any date", *p, "due",
                            expected="an offset that stays inside the stage window")
                start, time = base, None
            else:
                try:
                    per = parse_period(m.due, default_year=year)
                except DeadlinePhraseError as exc:
                    ck.fail(str(exc), *p, "due")
                start, due, time = per.start, per.end, per.time
            if m.start is not None:
                try:
                    start = parse_period(m.start, default_year=year).start
                except DeadlinePhraseError as exc:
                    ck.fail(str(exc), *p, "start")
            if start > due:
                ck.fail(f"starts {start} after its deadline {due}", *p, "start")
            w = windows[stage]
            if not (w.start <= due <= w.end):
                ck.fail(f"deadline {due} ({m.due}) is outside stage {stage!r} ({w.start} – {w.end})", *p, "due",
                        expected="a deadline inside the stage window, or another stage for this milestone")
            dates[key] = (start, due, time)
            del pending[key]
            progress = True
    if pending:
        (r, idx, m, *_rest) = next(iter(pending.values()))
        ck.fail(f"offset deadlines refer to each other in a circle ({m.id}: {m.due!r})", *r["ms_path"], idx, "due")
    # A milestone cannot start before what it waits for is due ("年底前" alone would start on 1 January), and a
    # milestone due before its own predecessor can never be on time: that is an error in the definition.
    changed = True
    while changed:
        changed = False
        for r in raw:
            for idx, m, _stage, deps in r["kept"]:
                start, due, time = dates[(r["key"], m.id)]
                for d in deps:
                    dkey = tuple(d.split(":", 1)) if ":" in d else (r["key"], d)
                    dep_due = dates[dkey][1]
                    if dep_due > due:
                        ck.fail(f"due {due} before {':'.join(dkey)}, which it waits for, is due ({dep_due})",
                                *r["ms_path"], idx, "due", expected="a deadline on or after its predecessors'")
                    if m.start is None and dep_due > start:
                        start = dep_due
                        changed = True
                dates[(r["key"], m.id)] = (start, due, time)
    return dates
