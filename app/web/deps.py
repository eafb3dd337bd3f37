"""The console's dependencies: the app's :class:`~app.web.state.WebState`, a read session, who is signed in (with
the run and its spec), a POST's form with its CSRF token checked, and an action flow run as the signed-in user.

Routes ask for them by type (``SignedIn``, ``ReadSession``, ``CheckedForm``, ``Acting``, ``State``); declared in
that order a POST reads its form (sign-in and CSRF checked) before anything else is read.
"""

from __future__ import annotations

from typing import Annotated, Any, Iterator, NamedTuple

from fastapi import Depends, Request
from pydantic import ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from stages.ground.errors import PlancycleError

from . import auth
from .state import WebState


def web_state(request: Request) -> WebState:
    return request.app.state.pc


State = Annotated[WebState, Depends(web_state)]


class Ctx(NamedTuple):
    """Who is signed in, as whom they act, the run and its spec."""

    user: Any
    actor: Any
    run: Any
    spec: Any


def ctx(request: Request, s: Session) -> Ctx:
    from stages.engine import find_run
    from stages.rules.identity import resolve_actor
    from stages.store.users import actor_for

    user = auth.current_user(request, s)
    run = find_run(s)
    spec = web_state(request).spec(run)
    actor = resolve_actor(spec, actor_for(user))
    return Ctx(user, actor, run, spec)


def read_session(request: Request) -> Iterator[Session]:
    """A session on the read engine, closed when the route returns (before its response is sent)."""
    with Session(web_state(request).read_engine) as s:
        yield s


ReadSession = Annotated[Session, Depends(read_session, scope="function")]


def signed_in(request: Request, s: ReadSession) -> Ctx:
    """Who is signed in, read in the route's own session (a page: the user is sent to sign in if no one is)."""
    return ctx(request, s)


SignedIn = Annotated[Ctx, Depends(signed_in)]


def acting(request: Request) -> Ctx:
    """Who is signed in and the run, for an action: read in a session of its own, off the event loop."""
    with Session(web_state(request).read_engine) as s:
        return ctx(request, s)


Acting = Annotated[Ctx, Depends(acting)]


async def form_of(request: Request) -> FormData:
    """A POST's form: only for someone signed in (but ``/login``), its CSRF token checked before it is used."""
    if request.url.path not in ("/login",) and not request.session.get("uid"):
        raise auth.NeedLogin()
    form = await request.form()
    auth.check_csrf(request, form.get("csrf_token"))
    return form


CheckedForm = Annotated[FormData, Depends(form_of)]


def act(st: WebState, flow_name: str, req_name: str, **fields) -> dict:
    """Run one action flow with the signed-in identity; refusals come back as PlancycleError."""
    import flows.actions as fa
    import stages.rules.requests as rq
    from flows.runner import run_in_process, run_through_prefect

    try:
        req = getattr(rq, req_name)(db=st.url, as_of=st.now(), **fields)
    except ValidationError as exc:
        raise PlancycleError(rq.first_error(exc)) from None
    if st.flows == "prefect":
        return run_through_prefect(getattr(fa, flow_name), req, api_url=st.api_url)
    return run_in_process(getattr(fa, flow_name), req)


async def aact(request: Request, flow_name: str, req_name: str, **fields) -> dict:
    """``act`` off the event loop: a Prefect flow run is synchronous and must not run inside it."""
    st = web_state(request)
    return await run_in_threadpool(lambda: act(st, flow_name, req_name, **fields))


def coordinating(form: CheckedForm, c: Acting) -> Ctx:
    """Who is signed in, for an action only the planning office (the coordinator) may take."""
    from stages.rules.identity import Forbidden

    if not c.actor.can_coordinate:
        raise Forbidden("只有规划科（协调人）可以办理")
    return c


Coordinating = Annotated[Ctx, Depends(coordinating)]
