"""The layout is the architecture: imports only go down the layers, and no two modules import each other.

Layers, bottom up (``stages/__init__.py`` says what each holds):

    stages.ground < stages.definition < stages.rules < stages.store < stages.engine < stages.views
        < stages.paperwork < flows < app

A module may import its own layer and the layers below it, never one above. Every import counts, including one
written inside a function: a circle is broken by moving what both sides need down a layer, not by hiding an
import in a function body. Read from the source with ``ast``; nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["stages.ground", "stages.definition", "stages.rules", "stages.store", "stages.engine", "stages.views",
          "stages.paperwork", "flows", "app"]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    out = {}
    for top in ("stages", "flows", "app"):
        for p in sorted((ROOT / top).rglob("*.py")):
            out[_module_name(p)] = p
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an imported name lives in (``stages.engine.submit`` → ``stages.engine``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(mod: str) -> set[str]:
    path = MODULES[mod]
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [f"{stem}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            r = _resolve(t)
            if r and r != mod:
                out.add(r)
    return out


def layer_of(mod: str) -> int:
    best = None
    for i, layer in enumerate(LAYERS):
        if mod == layer or mod.startswith(layer + "."):
            best = i
    if best is None:
        if mod in ("stages",):
            return -1
        raise AssertionError(f"{mod} is in no layer: put it in one of {LAYERS}")
    return best


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_is_in_a_layer():
    for m in MODULES:
        layer_of(m)


def test_imports_only_go_down():
    upward = sorted(f"{m} ({LAYERS[layer_of(m)]}) imports {t} ({LAYERS[layer_of(t)]})"
                    for m, ts in GRAPH.items() for t in ts if layer_of(t) > layer_of(m))
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _without_package_doors(graph):
    """A package's ``__init__`` that re-exports its modules is the door to them, not a party to a circle."""
    return {m: {t for t in ts if not (MODULES[t].name == "__init__.py" and m.startswith(t + "."))}
            for m, ts in graph.items()}


def test_no_circles():
    circles = _cycles(_without_package_doors(GRAPH))
    assert not circles, "modules that import each other:\n" + "\n".join(" ↔ ".join(c) for c in circles)


def test_stages_does_not_import_prefect():
    for m, p in MODULES.items():
        if m.startswith("stages"):
            tree = ast.parse(p.read_text(encoding="utf-8"))
            names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
            names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
            assert not any(x == "prefect" or x.startswith("prefect.") for x in names), m


def test_the_checks_themselves_can_fail():
    """The checker sees an upward import and a circle when there is one (so a green run means something)."""
    fake = {"stages.store.a": {"stages.engine.b"}, "stages.engine.b": {"stages.store.a"}}
    assert _cycles(fake) == [["stages.engine.b", "stages.store.a"]]
    assert layer_of("stages.engine.b") > layer_of("stages.store.a")
    with pytest.raises(AssertionError):
        layer_of("nowhere.module")
