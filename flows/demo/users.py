"""The demo's accounts for trying the web console on its database."""

from __future__ import annotations

from sqlmodel import Session

DEMO_PASSWORD = "demo-2019-plancycle"


def create_demo_users(engine, spec) -> dict:
    """Accounts for trying the console on the demo database: one liaison per department (username = the
    department's id in the departments file), the planning office ``coord``, a leader ``leader`` and ``admin``;
    all with the printed demo password. Never used outside the demo."""
    from stages.store import users

    add_user = users.add_user
    made = {"coordinator": "coord", "leader": "leader", "admin": "admin", "departments": 0,
            "password": DEMO_PASSWORD}
    # one argon2 hash for the one demo password (0.5 s each: fifty departments took half the demo's time)
    hashed = users.hash_password(DEMO_PASSWORD)
    original = users.hash_password
    users.hash_password = lambda pw: hashed if pw == DEMO_PASSWORD else original(pw)
    try:
        _add_demo_users(engine, spec, add_user, made)
    finally:
        users.hash_password = original
    return made


def _add_demo_users(engine, spec, add_user, made) -> None:
    with Session(engine) as s:
        add_user(s, spec.departments, username="coord", role="coordinator", password=DEMO_PASSWORD,
                 name=f"{spec.coordinator.short}规划科")
        add_user(s, spec.departments, username="leader", role="leader", password=DEMO_PASSWORD, name="分管领导")
        add_user(s, spec.departments, username="admin", role="admin", password=DEMO_PASSWORD, name="系统管理员")
        for d in spec.departments:
            if d.short == spec.coordinator.short or d.kind == "external":
                continue
            add_user(s, spec.departments, username=d.id, role="department", password=DEMO_PASSWORD,
                     name=f"{d.short}联络员", dept=d.short)
            made["departments"] += 1
        s.commit()
