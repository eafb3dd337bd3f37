"""No shipped id or unit name in code (issue 12): the engine knows a cycle only through its file.

Every id of every shipped cycle file (stages, gates, tasks, milestones, lifecycles, approval bodies and subjects,
item keys and key prefixes) and every unit name (departments' short and full names and aliases, groups, the
district, the issuer, the period, the approval bodies' names) is looked for in the string literals of
``stages/``, ``flows/`` and ``app/`` (docstrings and comments are prose, not behaviour, and are not read) and in
``templates/``. Words that are the schema's or the code's own vocabulary and happen to be ids too (a track's
name, a status, a field, a role) are listed in GENERIC with the reason.

What is left in files another engineer owns is listed in KNOWN, file by file, so that nothing new creeps in
while they are changed; the hand-back of issue 12 says what each needs.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
from pathlib import Path

import pytest

from stages.rules.gates import predicates
from stages.definition.loader import load_cycle

from .conftest import ROOT

SHIPPED = sorted((ROOT / "config" / "cycles").glob("*.yaml"))

# ids that are also the schema's or the code's own words
GENERIC = {
    "topic": "a track kind (stages.definition.spec.KIND_OF_TRACK) and the topics' lifecycle key the schema requires",
    "special_plan": "a track kind and its lifecycle key",
    "outline": "a track kind, and the one item of that track",
    "approval": "a gate predicate (stages.definition.spec.GatePredicate.approval)",
    "approve": "a decision kind (stages.store.models.Decision.kind)",
    "registration": "a role (stages.definition.spec.ROLES)",
    "contractor": "a field of an item (stages.store.models.Item.contractor)",
    "done": "a traffic light",
    "draft": "a document's status",
    "issued": "a document's status",
    "submitted": "a milestone's status",
    "confirm": "a field of the 立项确认 request (stages.rules.requests.RegisterRequest.confirm)",
    "link": "a field of a message (stages.store.models.Message.link)",
    "file": "a form field",
    "plan": "a word of the documents' context (paperwork.words)",
    "opening": "the opening 请示's key (the cycle file's opening_request)",
    "proposals": "a form field",
}

# left in files the lead owns (stages/paperwork/: drafting.py, notices.py, titles.py, messages.py; app/web/, templates/):
# (file, word) → what it is
KNOWN = {
    ("stages/paperwork/titles.py", "区政府"): "break_title's 公文 vocabulary: institutions every district has",
    ("stages/paperwork/titles.py", "区委"): "the same dictionary",
    ("stages/paperwork/titles.py", "区政府办公室"): "the same dictionary",
    ("stages/paperwork/titles.py", "发改委"): "the same dictionary",
    ("stages/paperwork/titles.py", "领导小组"): "the same dictionary",
}


def vocabulary() -> tuple[set[str], set[str]]:
    ids: set[str] = set()
    names: set[str] = set()
    for path in SHIPPED:
        spec = load_cycle(path)
        cf = spec.file
        ids |= {s.id for s in cf.stages} | {g.id for g in cf.gates} | {t.id for t in cf.tasks}
        ids |= set(cf.approval_bodies) | set(cf.lifecycles) | {it.key for it in spec.items}
        for lc in cf.lifecycles.values():
            ids |= {m.id for m in lc.milestones}
            ids |= {lc.key_prefix} if lc.key_prefix else set()
        for t in cf.tasks:
            ids |= {m.id for m in t.milestones}
        for g in cf.gates:
            ids |= {p.approval.subject for p in predicates(g) if p.approval}
        for d in spec.departments:
            names |= {d.short, d.name, *d.aliases}
        names |= set(spec.groups) | set(cf.approval_bodies.values())
        names |= {cf.district, cf.district.removesuffix("区"), cf.issuer, spec.period}
    return ids - set(GENERIC), {n for n in names if n and len(n) >= 2}


def literals(path: Path):
    """(line, text) of every string literal that is not a docstring."""
    src = path.read_text(encoding="utf-8")
    toks = [t for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type not in (tokenize.NL, tokenize.COMMENT)]
    for i, t in enumerate(toks):
        if t.type != tokenize.STRING:
            continue
        before = toks[i - 1] if i else None
        after = toks[i + 1] if i + 1 < len(toks) else None
        if (before is None or before.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)) and \
                after is not None and after.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            continue  # a docstring: prose
        try:
            value = ast.literal_eval(t.string)
        except (ValueError, SyntaxError):
            value = t.string  # an f-string: its text as written
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            yield t.start[0], value


@functools.lru_cache(maxsize=1)
def hits() -> list[tuple[str, int, str]]:
    ids, names = vocabulary()
    found = []
    for root in ("stages", "flows", "app"):
        for path in sorted((ROOT / root).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            for line, text in literals(path):
                for x in ids:
                    if text == x or (("-" in x or "_" in x) and re.search(rf"(?<![\w-]){re.escape(x)}(?![\w-])", text)):
                        found.append((rel, line, x))
                found += [(rel, line, n) for n in names if n in text]
    for path in sorted((ROOT / "templates").rglob("*")):
        if not path.is_file():
            continue
        rel = str(path.relative_to(ROOT))
        text = path.read_text(encoding="utf-8")
        for n in names:
            if n in text:
                found.append((rel, text[: text.index(n)].count("\n") + 1, n))
        for x in ids:  # an id compared or looked up in a template: quoted
            m = re.search(rf"[\"']{re.escape(x)}[\"']", text)
            if m:
                found.append((rel, text[: m.start()].count("\n") + 1, x))
    return sorted(set(found))


def test_the_vocabulary_is_the_shipped_files():
    ids, names = vocabulary()
    assert {"final_review", "special-plan-registration", "leading_group", "topic-07", "sp-", "research",
            "alignment_draft", "basic-approach", "expert_review", "kt-03", "prep"} <= ids
    assert {"区发改委", "长宁", "十四五", "区发展改革委", "静安", "十五五", "各街镇"} <= names


def test_no_shipped_id_or_unit_name_in_code_or_templates():
    left = [f"{f}:{line}: {w}" for f, line, w in hits() if (f, w) not in KNOWN]
    assert left == [], "\n".join(left)


ENGINE_FILES = sorted(str(p.relative_to(ROOT)) for d in ("stages/definition", "stages/rules", "stages/engine",
                                                         "stages/views", "stages/store", "flows")
                      for p in (ROOT / d).rglob("*.py"))


def test_the_engine_files_are_found():
    assert len(ENGINE_FILES) > 20 and "flows/common.py" in ENGINE_FILES


@pytest.mark.parametrize("path", ENGINE_FILES)
def test_the_engine_and_the_demo_are_clean(path):
    assert [h for h in hits() if h[0] == path] == []
