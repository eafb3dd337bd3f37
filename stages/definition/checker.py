"""The loader's checker: a ``ConfigError`` that names the file, the line and the YAML path (``_error``,
``_from_validation``), and ``_Checker``, which holds what the checks share (the parsed files, the departments by
every name, the stage and gate ids) and refuses an unknown reference. Also the helpers several checks use:
an item kind's key prefix, a deadline phrase's length, a milestone reference inside an item.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from stages.definition.calendar import WorkCalendar
from stages.definition.spec import CycleFile, DepartmentsFile, LifecycleSpec
from stages.definition.yamlio import YamlDoc, clean
from stages.ground.errors import ConfigError

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


def _key_prefix(cf: CycleFile, lifecycle: str) -> str:
    lc = cf.lifecycles.get(lifecycle)
    return lc.key_prefix if lc is not None and lc.key_prefix else lifecycle.replace("_", "-") + "-"


def _phrase_length(ck: _Checker, text, *path) -> None:
    """Deadline phrases are short (the longest in the shipped cycle is 33 characters); a long one is a mistake,
    and the phrase parser's patterns are not meant for 100 KB of input (a run of spaces took seconds)."""
    if isinstance(text, str) and len(text) > MAX_PHRASE:
        ck.fail(f"the deadline phrase is {len(text):,} characters long", *path,
                expected=f"at most {MAX_PHRASE}, e.g. 2019年6月上旬 or 开题 + 10 个工作日")


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
