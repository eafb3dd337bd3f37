"""Gates and the milestone graph: every gate can become true (its milestones exist, N of M has N ≤ M, its body
exists), gates naming each other form no loop and stay within MAX_GATE_DEPTH and MAX_GATE_SIZE, and milestones
with the gates they wait for form no dependency cycle.
"""

from __future__ import annotations

from stages.definition.checker import MAX_GATE_DEPTH, MAX_GATE_SIZE, _Checker, _key_prefix
from stages.definition.spec import GatePredicate
from stages.definition.spec import predicates as _gate_predicates
from stages.ground.i18n import Msg

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
                    ck.fail("config.gate_too_deep", "gates", index[gid], gate=gid, depth=depth[gid],
                            expected=Msg("config.expect_gate_depth", max=MAX_GATE_DEPTH))
                if size[gid] > MAX_GATE_SIZE:
                    ck.fail("config.gate_too_wide", "gates", index[gid], gate=gid, size=f"{size[gid]:,}",
                            expected=Msg("config.expect_gate_size", max=f"{MAX_GATE_SIZE:,}"))
                continue
            where, sub = nxt
            if color[sub] == GREY:
                loop = [x for x, _ in stack]
                loop = loop[loop.index(sub):]
                first = loop[0]
                # report at the reference in the loop's first gate that starts the loop
                start_where = next(w for w, ref in refs[first] if ref == (loop[1] if len(loop) > 1 else first))
                through = " → ".join(loop[1:] + [first])
                msg = (Msg("config.gate_loop_through", gate=first, through=through) if len(loop) > 1
                       else Msg("config.gate_loop_self", gate=first))
                ck.fail(msg, *start_where, expected=Msg("config.expect_no_gate_loop"))
            if color[sub] == WHITE:
                color[sub] = GREY
                stack.append((sub, iter(refs[sub])))


def _check_gates(ck: _Checker, by_key: dict, track_items: dict):
    cf = ck.cf
    for gi, gate in enumerate(cf.gates):
        for p in _gate_predicates(gate):
            where = ("gates", gi)
            if not p.kind():
                ck.fail("config.predicate_kind", *where)
            for sub in (p.all_of or ()) + (p.any_of or ()):
                if isinstance(sub, str):
                    ck.gate(sub, *where)
                    if sub == gate.id:
                        ck.fail("config.gate_loop_self", *where, gate=gate.id)
            if p.approval and p.approval.body not in cf.approval_bodies:
                ck.fail("config.unknown_approval_body", *where, "approval", "body", body=p.approval.body,
                        expected=" / ".join(cf.approval_bodies))
            if p.milestone:
                if ":" not in p.milestone:
                    ck.fail("config.names_no_item", *where, "milestone", milestone=p.milestone,
                            expected=Msg("config.expect_item_milestone"))
                item_key, mid = p.milestone.split(":", 1)
                r = by_key.get(item_key)
                ck.split_task(item_key, p.milestone, *where, "milestone")
                if r is None or r.get("template"):
                    ck.fail("config.unknown_item", *where, "milestone", item=item_key,
                            expected=Msg("config.expect_item_key", prefix=_key_prefix(ck.cf, "topic")))
                if mid not in {m.id for m in r["ms"]}:
                    ck.fail("config.item_no_milestone", *where, "milestone", item=item_key, milestone=mid,
                            expected=", ".join(m.id for m in r["ms"]))
            for key in ("all", "at_least"):
                q = getattr(p, key)
                if q is None:
                    continue
                members = track_items[q.track]
                if q.track == "special_plans" and "special_plan" not in cf.lifecycles:
                    ck.fail("config.no_special_plan_lifecycle_gate", *where, key, "track",
                            expected=Msg("config.expect_special_plan_gate"))
                if not any(q.milestone in {m.id for m in r["ms"]} for r in members):
                    ck.fail("config.gate_never_opens", *where, key, "milestone", track=q.track, milestone=q.milestone)
                if key == "at_least" and q.track != "special_plans":
                    having = sum(1 for r in members if q.milestone in {x[1].id for x in r["kept"]})
                    if q.n > having:
                        ck.fail("config.gate_n_too_big", *where, key, "n", n=q.n, track=q.track, having=having,
                                milestone=q.milestone, expected=f"n ≤ {having}")
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
                            ck.fail("config.waits_for_itself", *where[node], attr, milestone=m.id, gate=gid)
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
                ck.fail("config.dependency_cycle", *where.get(nxt, ()), cycle=" → ".join(cyc),
                        expected=Msg("config.expect_earlier_deps"))
            if color[nxt] == WHITE:
                color[nxt] = GREY
                path.append(nxt)
                stack.append((nxt, iter(sorted(edges[nxt]))))
