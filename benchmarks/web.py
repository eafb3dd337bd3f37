"""Web console under load: N liaisons and the planning office, through a real server on 127.0.0.1.

Prepares a database with a generated cycle (N topics, each led by its own department, each a chain of K
milestones), one liaison account per department and a coordinator; starts ``plancycle web`` in a subprocess
(the real server: uvicorn, Prefect API warm, every action a Prefect flow run); then each of N concurrent users
loops: sign in once, then per milestone GET /inbox → POST submit (one small .docx) → the coordinator's POST review
(accept) → GET /items/KEY. Prints median, p95 and throughput per kind of request.

    python benchmarks/web.py --users 1,10,50                 # SQLite (the default)
    python benchmarks/web.py --users 1,10,50 --postgres      # a throwaway PostgreSQL cluster (needs the server binaries)

Every request goes to 127.0.0.1 only; loops are bounded by --rounds.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-pass-2019"


def cycle_file(tmp: Path, n: int, k: int) -> Path:
    deps = "departments:\n  - {id: fgw, short: 区发改委, name: 测试区发展和改革委员会}\n" + "".join(
        f"  - {{id: d{i:03d}, short: 部门{i:03d}, name: 测试区部门{i:03d}}}\n" for i in range(1, n + 1))
    (tmp / "deps.yaml").write_text(deps, encoding="utf-8")
    chain = "".join(f"      - {{id: m{j:02d}, name: 节点{j:02d}, due: 2019年{7 + j // 4}月底前}}\n" for j in range(1, k + 1))
    topics = "".join(f"  - {{no: {i}, title: 课题{i}, focus: 重点, lead: [部门{i:03d}], open_call: false}}\n"
                     for i in range(1, n + 1))
    p = tmp / "bench.yaml"
    p.write_text(f"""id: bench
version: 1
title: 测试区规划研究和编制工作
district: 测试区
issuer: 测试区发展和改革委员会
departments: deps.yaml
notices: {ROOT / 'tests' / 'fixtures' / 'mini-notices.yaml'}
coordinator: 区发改委
approval_bodies: {{leading_group: 领导小组}}
stages:
  - {{id: research, name: 前期研究, window: 2019年}}
lifecycles:
  topic:
    name: 课题
    stage: research
    milestones:
{chain}  special_plan:
    name: 专项规划
    stage: research
    milestones:
      - {{id: proposal, name: 立项建议, due: 2019年三季度}}
topics:
{topics}""", encoding="utf-8")
    return p


def prepare(url: str, tmp: Path, n: int, k: int) -> None:
    from sqlmodel import Session

    from stages.definition.loader import load_cycle
    from stages.store.models import create_schema, make_engine
    from stages.engine import init_run
    from stages.store.users import add_user

    spec = load_cycle(cycle_file(tmp, n, k))
    eng = make_engine(url)
    create_schema(eng)
    with Session(eng) as s:
        init_run(s, spec, as_of="2019-06-03")
        add_user(s, spec.departments, username="coord", role="coordinator", password=PASSWORD)
        for i in range(1, n + 1):
            add_user(s, spec.departments, username=f"d{i:03d}", role="department", dept=f"部门{i:03d}", password=PASSWORD)
        s.commit()
    eng.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, tmp: Path):
    port = free_port()
    env = {**os.environ, "PLANCYCLE_FILES": str(tmp / "files"), "PLANCYCLE_RUN_DIR": str(tmp / "run")}
    log = open(tmp / "server.log", "w")
    p = subprocess.Popen([sys.executable, "-m", "app.cli", "--db", url, "web", "--port", str(port), "--as-of",
                          "2019-07-01"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 120:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return p, f"http://127.0.0.1:{port}", time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        if p.poll() is not None:
            raise SystemExit(f"server exited: {(tmp / 'server.log').read_text()[-2000:]}")
        time.sleep(0.2)
    p.kill()
    raise SystemExit("server did not start in 120 s")


def client(base: str, username: str):
    import httpx

    c = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    r = c.get("/login")
    tok = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": tok})
    assert r.status_code == 303, r.text[:300]
    c.headers["x-csrf-token"] = c.get("/api/me").json()["csrf_token"]
    return c


def user_loop(base: str, i: int, k: int, timings: dict) -> int:
    dept, coord = client(base, f"d{i:03d}"), client(base, "coord")
    key = f"topic-{i:02d}"
    body = b"PK\x03\x04" + b"x" * 4000
    done = 0
    for j in range(1, k + 1):
        def timed(kind, fn):
            t = time.perf_counter()
            r = fn()
            timings[kind].append(time.perf_counter() - t)
            if r.status_code >= 400:
                raise RuntimeError(f"{kind} {r.status_code}: {r.text[:200]}")
            return r

        timed("GET /inbox", lambda: dept.get("/inbox"))
        timed("POST submit", lambda: dept.post(f"/api/items/{key}/milestones/m{j:02d}/submit",
                                               files={"files": ("材料.docx", body)}, data={"note": "按要求报送"}))
        timed("POST review", lambda: coord.post(f"/api/items/{key}/milestones/m{j:02d}/review",
                                                data={"decision": "accept"}))
        timed("GET /items", lambda: dept.get(f"/items/{key}"))
        done += 1
    return done


def run(url: str, users: int, k: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="plancycle-webbench-"))
    try:
        prepare(url, tmp, users, k)
        proc, base, startup = start_server(url, tmp)
        try:
            timings: dict[str, list[float]] = defaultdict(list)
            t0 = time.perf_counter()
            with cf.ThreadPoolExecutor(users) as ex:
                done = sum(ex.map(lambda i: user_loop(base, i, k, timings), range(1, users + 1)))
            wall = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        return {"users": users, "startup": startup, "wall": wall, "rounds": done, "timings": timings}
    finally:
        if os.environ.get("KEEP_BENCH"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def postgres_url(stack):
    """A throwaway cluster on a Unix socket (as tests/test_postgres.py does)."""
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise SystemExit("no PostgreSQL server binaries (apt-get install postgresql)")
    bindir = os.path.dirname(found[-1])
    root = tempfile.mkdtemp(prefix="plancycle-pgbench-")
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(root, "data"), free_port()
    subprocess.run(as_user + [f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                              "--locale=C.UTF-8"], check=True, capture_output=True)
    subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(root, "log"), "-o",
                              f"-p {port} -k {root} -c listen_addresses='' -c max_connections=300", "start"],
                   check=True, capture_output=True)
    stack.append(lambda: (subprocess.run(as_user + [f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "stop"],
                                         capture_output=True), shutil.rmtree(root, ignore_errors=True)))
    return root, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", default="1,10,50")
    ap.add_argument("--rounds", type=int, default=4, help="milestones each user takes through submit and review")
    ap.add_argument("--postgres", action="store_true")
    a = ap.parse_args()
    stack: list = []
    try:
        if a.postgres:
            root, port = postgres_url(stack)
        print(f"{'db':<10} {'users':>5} {'request':<13} {'n':>5} {'median ms':>10} {'p95 ms':>8}   throughput")
        for n in [int(x) for x in a.users.split(",")]:
            if a.postgres:
                from sqlalchemy import create_engine, text

                name = f"bench{n}"
                e = create_engine(f"postgresql+psycopg://postgres@/postgres?host={root}&port={port}",
                                  isolation_level="AUTOCOMMIT")
                with e.connect() as c:
                    c.execute(text(f"DROP DATABASE IF EXISTS {name}"))
                    c.execute(text(f"CREATE DATABASE {name}"))
                e.dispose()
                url = f"postgresql+psycopg://postgres@/{name}?host={root}&port={port}"
            else:
                url = None
            if url is None:
                d = Path(tempfile.mkdtemp(prefix="plancycle-webbench-db-"))
                url = f"sqlite:///{d / 'bench.db'}"
            out = run(url, n, a.rounds)
            db = "postgres" if a.postgres else "sqlite"
            total = sum(len(v) for v in out["timings"].values())
            for kind, xs in sorted(out["timings"].items()):
                xs = sorted(xs)
                p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))]
                print(f"{db:<10} {n:>5} {kind:<13} {len(xs):>5} {statistics.median(xs) * 1000:>10.0f} {p95 * 1000:>8.0f}")
            print(f"{db:<10} {n:>5} {'all':<13} {total:>5} {'':>10} {'':>8}   {total / out['wall']:.1f} req/s, "
                  f"{out['rounds'] / out['wall']:.1f} submit+review rounds/s (server start {out['startup']:.1f} s)")
    finally:
        for fn in reversed(stack):
            fn()


if __name__ == "__main__":
    main()
