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
from stages.ground.i18n import CODE, Msg

ROLE_OWNERS = ("lead", "coordinator")
MAX_PHRASE = 100  # characters in a deadline phrase or stage window; the longest in the shipped cycle is 33
MAX_GATE_DEPTH = 16  # gates naming gates naming gates …: the shipped cycle goes 2 deep
MAX_GATE_SIZE = 1_000  # predicates one gate evaluates, named sub-gates expanded; the shipped cycle's largest is 3


class _Shown(str):
    """A value from the file, made safe for one line (``clean``): what ``{value}`` shows in a message, while
    ``{value!r}`` shows the repr of the value as written, made safe the same way (as the English sentences always
    did)."""

    def __new__(cls, value: str, limit: int):
        self = super().__new__(cls, clean(value, limit))
        self._repr = clean(repr(value), limit)
        return self

    def __repr__(self) -> str:
        return self._repr

    def __reduce__(self):
        return (_shown, (str(self), self._repr))


def _shown(text: str, shown_repr: str) -> _Shown:
    self = str.__new__(_Shown, text)
    self._repr = shown_repr
    return self


PARAM_LIMIT = 160  # characters of one value from the file shown in a message


def _safe(value, limit: int = PARAM_LIMIT):
    if isinstance(value, str) and not isinstance(value, _Shown):
        return value if value.isprintable() and len(value) <= limit else _Shown(value, limit)
    if isinstance(value, (list, tuple)):
        return type(value)(_safe(v, limit) for v in value)
    return value


def _error(message: "str | Msg", *, file: str | None, line: int | None = None, path: str | None = None,
           expected: "str | Msg | None" = None, **params) -> ConfigError:
    """A ConfigError whose parts are safe on one line: values from the file may hold control characters or be
    a megabyte long. ``message`` is a ``config.…`` code (with its ``params``) or a :class:`Msg`; ``expected`` a
    ``Msg`` or a plain value (ids, a pattern), shown as it is in both languages."""
    if isinstance(message, Msg):
        message, params = message.code, {**message.params, **params}
    if params or (isinstance(message, str) and CODE.match(message)):
        message = Msg(message, **{k: _safe(v) for k, v in params.items()})
    elif isinstance(message, str):  # a sentence from elsewhere not yet in the catalogue
        message = clean(message, 300)
    if isinstance(expected, str):
        expected = clean(expected, 200)
    return ConfigError(message, file=file, line=line, path=clean(path, 120) if path else None,
                       expected=expected or None)


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


# pydantic's error types whose sentence the catalogue has (``config.pyd_<type>``): the English text is pydantic's own
# sentence, checked when it is used (another pydantic wording falls back to ``config.invalid``, which quotes it)
_PYDANTIC_CODES = ("string_type", "int_type", "int_parsing", "int_from_float", "float_type", "float_parsing",
                   "bool_type", "bool_parsing", "tuple_type", "list_type", "dict_type", "model_type",
                   "string_pattern_mismatch", "literal_error", "greater_than_equal", "greater_than", "less_than_equal",
                   "less_than", "tuple_too_short", "string_too_short")


def _pydantic_msg(err: dict, got) -> Msg:
    """The first pydantic error as a catalogue message: ``config.pyd_<type>`` where the catalogue has the type and
    its English text is exactly pydantic's sentence, else ``config.invalid`` quoting pydantic's sentence."""
    text = err["msg"]
    detail = text[0].lower() + text[1:]
    kind = err["type"]
    if kind == "too_short" and detail.startswith(("tuple ", "string ")):
        kind = detail.split(" ", 1)[0] + "_too_short"
    if kind in _PYDANTIC_CODES:
        ctx = {k: _safe(v if isinstance(v, (int, float)) else str(v)) for k, v in (err.get("ctx") or {}).items()}
        msg = Msg(f"config.pyd_{kind}", **ctx, got=got)
        got_en = got.render("en") if isinstance(got, Msg) else got
        try:
            if msg.render("en") == f"{detail} (got {got_en})":
                return msg
        except (KeyError, IndexError, ValueError):
            pass
    return Msg("config.invalid", detail=_safe(detail, 300), got=got)


def _from_validation(exc: ValidationError, doc: YamlDoc) -> ConfigError:
    err = exc.errors(include_url=False)[0]
    kind = err["type"]
    raw_loc = tuple(err["loc"])
    if kind == "missing" and raw_loc:
        parent, key = _real_loc(raw_loc[:-1], doc.data), raw_loc[-1]
        return _error("config.missing_key", file=doc.file, line=doc.line(*parent), path=_dotted(parent) or None,
                      key=key)
    loc = _real_loc(raw_loc, doc.data)
    path = _dotted(loc)
    if kind == "extra_forbidden" and loc:
        return _error("config.unknown_key", file=doc.file, line=doc.line(*loc), path=path,
                      expected=Msg("config.expect_documented_key"), key=loc[-1])
    got = err.get("input")
    if isinstance(got, dict):
        got_text = Msg("config.got_mapping")
    elif isinstance(got, list):
        got_text = Msg("config.got_list")
    else:
        got_text = repr(got)
        if len(got_text) > 60:
            got_text = got_text[:57] + "..."
        got_text = _safe(got_text)
    return _error(_pydantic_msg(err, got_text), file=doc.file, line=doc.line(*loc), path=path)


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
            self.fail("config.split_task_ref", *path, task=item_key, ref=ref,
                      expected=Msg("config.expect_task_part", parts=_safe(tuple(parts[:3]))))

    def fail(self, message: "str | Msg", *path, expected: "str | Msg | None" = None, doc: YamlDoc | None = None,
             **params):
        """Raise the ConfigError ``message`` (a ``config.…`` code with its ``params``, or a Msg) at ``path`` of
        ``doc`` (the cycle file unless said)."""
        d = doc or self.doc
        raise _error(message, file=d.file, line=d.line(*path), path=_dotted(path) or None, expected=expected,
                     **params)

    # -- 2. uniqueness ---------------------------------------------------------------------------------------------
    def unique(self):
        def check(values, path_of, what):
            seen: dict[Any, int] = {}
            for i, v in enumerate(values):
                if v in seen:
                    self.fail("config.duplicate", *path_of(i), what=Msg(f"config.what_{what}"), value=v, index=seen[v])
                seen[v] = i

        check([s.id for s in self.cf.stages], lambda i: ("stages", i, "id"), "stage_id")
        check([x.id for x in self.cf.indicators], lambda i: ("indicators", i, "id"), "indicator_id")
        check([x.name for x in self.cf.indicators], lambda i: ("indicators", i, "name"), "indicator_name")
        check(self.gate_ids, lambda i: ("gates", i, "id"), "gate_id")
        check([t.id for t in self.cf.tasks] + (["outline"] if self.cf.outline else []),
              lambda i: ("tasks", i, "id"), "task_id")
        check([t.no for t in self.cf.topics], lambda i: ("topics", i, "no"), "topic_number")
        for ti, task in enumerate(self.cf.tasks):
            check([m.id for m in task.milestones], lambda i, ti=ti: ("tasks", ti, "milestones", i, "id"), "milestone_id")
        for name, lc in self.cf.lifecycles.items():
            check([m.id for m in lc.milestones], lambda i, name=name: ("lifecycles", name, "milestones", i, "id"), "milestone_id")
        d = self.dfile.departments
        check([x.id for x in d], lambda i: ("departments", i, "id"), "department_id")
        names: dict[str, int] = {}
        for i, dep in enumerate(d):
            for n in (dep.short, dep.name, *dep.aliases):
                if n in names and names[n] != i:
                    self.fail("config.department_name_twice", "departments", i, doc=self.deps_doc, name=n)
                names[n] = i
                self.dept_names[n] = dep.short
            self.dept_names[dep.id] = dep.short
        for gname, members in self.dfile.groups.items():
            for j, m in enumerate(members):
                if m not in self.dept_names:
                    self.fail("config.group_member_unknown", "groups", gname, j, doc=self.deps_doc, member=m)

    # -- 3. references ---------------------------------------------------------------------------------------------
    def dept(self, name: str, *path, allow_group: bool = False) -> str:
        if name in self.dept_names:
            return self.dept_names[name]
        if allow_group and name in self.dfile.groups:
            return name
        known = "、".join(list(dict.fromkeys(self.dept_names.values()))[:6])
        self.fail("config.unknown_department", *path, name=name,
                  expected=Msg("config.expect_department", known=_safe(known)))

    def stage(self, sid: str, *path):
        if sid not in self.stage_ids:
            self.fail("config.unknown_stage", *path, stage=sid, expected=" / ".join(self.stage_ids))

    def gate(self, gid: str, *path):
        if gid not in self.gate_ids:
            self.fail("config.unknown_gate", *path, gate=gid,
                      expected=Msg("config.expect_gate_id", ids=_safe(", ".join(self.gate_ids[:8]), 200)))

    def lifecycle(self, name: str, *path) -> LifecycleSpec:
        if name not in self.cf.lifecycles:
            self.fail("config.unknown_lifecycle", *path, lifecycle=name, expected=" / ".join(self.cf.lifecycles))
        return self.cf.lifecycles[name]


def _kind_of(value) -> Msg:
    """What a value is, said where a mapping was expected."""
    if value is None:
        return Msg("config.kind_null")
    if isinstance(value, list):
        return Msg("config.kind_list")
    if isinstance(value, str):
        return Msg("config.kind_text")
    if isinstance(value, (int, float)):
        return Msg("config.kind_number")
    return Msg("config.kind_other", type=type(value).__name__)


def _key_prefix(cf: CycleFile, lifecycle: str) -> str:
    lc = cf.lifecycles.get(lifecycle)
    return lc.key_prefix if lc is not None and lc.key_prefix else lifecycle.replace("_", "-") + "-"


def _phrase_length(ck: _Checker, text, *path) -> None:
    """Deadline phrases are short (the longest in the shipped cycle is 33 characters); a long one is a mistake,
    and the phrase parser's patterns are not meant for 100 KB of input (a run of spaces took seconds)."""
    if isinstance(text, str) and len(text) > MAX_PHRASE:
        ck.fail("config.phrase_too_long", *path, length=f"{len(text):,}",
                expected=Msg("config.expect_phrase_length", max=MAX_PHRASE))


def _ref(ck: _Checker, r: dict, ref: str, by_key: dict, path: tuple) -> str:
    """A milestone reference inside item ``r``: an id or name of its own, or ``item:milestone`` across items."""
    if ":" in ref:
        item_key, mid = ref.split(":", 1)
        other = by_key.get(item_key)
        ck.split_task(item_key, ref, *path)
        if other is None or other.get("template"):
            ck.fail("config.unknown_item_in_ref", *path, item=item_key, ref=ref,
                    expected=Msg("config.expect_item_key", prefix=_key_prefix(ck.cf, "topic")))
        ids = {m.id for m in other["ms"]}
        names = {m.name: m.id for m in other["ms"]}
        if mid in ids:
            return f"{item_key}:{mid}"
        if mid in names:
            return f"{item_key}:{names[mid]}"
        ck.fail("config.item_no_milestone", *path, item=item_key, milestone=mid, expected=", ".join(sorted(ids)))
    ids = [m.id for m in r["ms"]]
    names = {m.name: m.id for m in r["ms"]}
    if ref in ids:
        return ref
    if ref in names:
        return names[ref]
    ck.fail("config.unknown_milestone", *path, milestone=ref,
            expected=Msg("config.expect_one_of", ids=_safe(", ".join(ids), 200)))
