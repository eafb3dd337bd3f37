"""Gates: named, declarative predicates over the facts of a run.

Owns: evaluating a gate (``evaluate``) against :class:`Facts` — the status of every milestone and the approvals
recorded — and explaining why a closed gate is closed. Pure: no database, no clock. Does not own: what a gate
guards (stage exits, milestone opening and acceptance are in ``stages.engine``) or overrides (a coordinator's
override is a recorded decision there, never a change to the gate).

Vocabulary (fixed, like viewflow's nodes; never an eval string from YAML):
``milestone`` (one milestone done), ``all`` (every live item of a track that has the milestone, at least one),
``at_least`` (N of M),
``approval`` (a body approved a subject), ``all_of`` / ``any_of`` (nested, by gate id or inline).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stages.definition.spec import TRACK_OF_KIND, CycleSpec, GatePredicate, predicates  # noqa: F401
from stages.rules.status import SETTLED, Status


@dataclass
class Facts:
    """What a gate may look at. ``milestones[(item_key, ms_id)] = status``; ``tracks[track] = [live item keys]``."""

    milestones: dict[tuple[str, str], Status] = field(default_factory=dict)
    tracks: dict[str, list[str]] = field(default_factory=dict)
    approvals: set[tuple[str, str]] = field(default_factory=set)

    def done(self, item: str, ms: str) -> bool:
        return self.milestones.get((item, ms)) in SETTLED  # accepted, waived, or optional and not triggered


def facts_from(items, milestones, approvals) -> Facts:
    """Facts from rows already read: (key, kind, status) items, (item_key, ms_id, status) milestones and
    (body, subject) approvals. Rejected special plans are in no track."""
    tracks: dict[str, list[str]] = {t: [] for t in TRACK_OF_KIND.values()}
    for key, kind, status in items:
        if status == "active":
            tracks[TRACK_OF_KIND[kind]].append(key)
    return Facts(milestones={(k, m): Status(s) for k, m, s in milestones}, tracks=tracks,
                 approvals={(b, s) for b, s in approvals})


@dataclass(frozen=True)
class GateResult:
    ok: bool
    missing: tuple[str, ...] = ()  # why it is closed, one phrase each

    def why(self, limit: int = 4) -> str:
        shown = list(self.missing[:limit])
        if len(self.missing) > limit:
            shown.append(f"… and {len(self.missing) - limit} more")
        return "; ".join(shown)


_HAVING: dict[tuple[str, str], tuple[frozenset, frozenset]] = {}


def _has(spec: CycleSpec, track: str, key: str, ms: str) -> bool:
    """Whether item ``key`` of ``track`` has milestone ``ms`` at all (a direct commission has no 确定承接单位)."""
    if track == "special_plans":
        lc = spec.lifecycles.get("special_plan")
        return lc is not None and any(m.id == ms for m in lc.milestones)
    cache_key = (spec.id, spec.checksum)
    if cache_key not in _HAVING:
        _HAVING[cache_key] = (frozenset((it.key, m.id) for it in spec.items for m in it.milestones),
                              frozenset(it.key for it in spec.items))
    pairs, keys = _HAVING[cache_key]
    return (key, ms) in pairs or key not in keys  # an item the spec does not know (a test's facts): it may have it


def evaluate(spec: CycleSpec, gate_id: str, facts: Facts) -> GateResult:
    return _eval(spec, spec.gate(gate_id), facts, ())


def _eval(spec: CycleSpec, p: GatePredicate, facts: Facts, seen: tuple[str, ...]) -> GateResult:
    bodies = spec.file.approval_bodies
    if p.milestone:
        item, ms = p.milestone.split(":", 1)
        ok = facts.done(item, ms)
        return GateResult(ok, () if ok else (f"{item}:{ms} not done",))
    if p.all:
        # every live item of the track that has this milestone: a milestone only some items have (a tendered
        # topic's 确定承接单位) is done when each of those has it done
        keys = [k for k in facts.tracks.get(p.all.track, []) if _has(spec, p.all.track, k, p.all.milestone)]
        if not keys:
            return GateResult(False, (f"no {p.all.track} yet",))
        missing = tuple(f"{k}:{p.all.milestone} not done" for k in keys if not facts.done(k, p.all.milestone))
        return GateResult(not missing, missing)
    if p.at_least:
        q = p.at_least
        keys = facts.tracks.get(q.track, [])
        have = sum(1 for k in keys if facts.done(k, q.milestone))
        ok = have >= q.n
        return GateResult(ok, () if ok else (f"{have} of {q.n} {q.track} have {q.milestone} done",))
    if p.approval:
        ok = (p.approval.body, p.approval.subject) in facts.approvals
        return GateResult(ok, () if ok else (f"no approval by {bodies.get(p.approval.body, p.approval.body)} "
                                             f"on {p.approval.subject}",))
    subs = p.all_of if p.all_of is not None else p.any_of
    results = []
    for sub in subs:
        if isinstance(sub, str):
            results.append(_eval(spec, spec.gate(sub), facts, seen + (sub,)))
        else:
            results.append(_eval(spec, sub, facts, seen))
    if p.all_of is not None:
        missing = tuple(m for r in results for m in r.missing)
        return GateResult(all(r.ok for r in results), missing)
    ok = any(r.ok for r in results)
    return GateResult(ok, () if ok else tuple(m for r in results for m in r.missing))
