"""Deployments, read from ``prefect.yaml`` so that ``plancycle serve`` and ``prefect deploy --all`` serve the
same flows on the same schedules (one source of truth, not two lists to keep in step)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = ROOT / "prefect.yaml"


def declared(path: Path = PREFECT_YAML) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["deployments"]


def runner_deployments(path: Path = PREFECT_YAML, db: str | None = None) -> list:
    """RunnerDeployments for ``serve()``: each flow loaded from its entrypoint, with its schedules."""
    from prefect.flows import load_flow_from_entrypoint
    from prefect.schedules import Cron

    os.environ.setdefault("PLANCYCLE_HOME", str(ROOT))
    out = []
    for dep in declared(path):
        file, fn = dep["entrypoint"].split(":")
        flow = load_flow_from_entrypoint(f"{ROOT / file}:{fn}")
        schedules = [Cron(s["cron"], timezone=s.get("timezone")) for s in dep.get("schedules") or []]
        params = {"db": db} if db and dep.get("schedules") else None
        out.append(flow.to_deployment(name=dep["name"], description=dep.get("description"), tags=dep.get("tags"),
                                      schedules=schedules or None, parameters=params))
    return out
