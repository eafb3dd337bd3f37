"""The notification list in a real browser: a liaison sees the sweep's reminders, the badge, marks one read."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session

from .conftest import shot
from .test_browser import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def reminded(console):
    """The console's database after the 2019-06-03 and 06-05 sweeps, their reminders enqueued as the sweep does."""
    from stages.paperwork import messages as mg
    from stages.definition.loader import load_cycle
    from stages.store.models import make_engine
    from stages.engine import calendar_for
    from stages.engine.sweep import sweep

    from ..conftest import CHANGNING

    base, url = console
    spec = load_cycle(CHANGNING)
    eng = make_engine(url)
    cal = calendar_for(spec)
    with Session(eng) as s:
        for day in ("2019-06-03", "2019-06-05"):
            sweep(s, {spec.id: spec}, cal, day)
            mg.enqueue_reminders(s, day, cal=cal, config=mg.MessagesConfig(base_url=base))
        s.commit()
    eng.dispose()
    return base, url


@pytest.mark.parametrize("width", [1366, 390])
def test_a_liaison_reads_a_reminder_in_the_console(browser, reminded, width):
    base, url = reminded
    ctx, page = sign_in(browser, base, "hqb", viewport=(width, 844))
    badge = page.locator("nav a[href='/messages'] .badge")
    assert badge.inner_text() == "1"
    page.click("nav a[href='/messages']")
    page.wait_for_url(base + "/messages")
    text = page.inner_text("main")
    assert "课题7“形成方案”6月10日到期" in text and "提前提醒" in text and "距截止还有7天（4个工作日）" in text
    assert "查看事项：" not in text  # the link line of e-mail and chat is a link here
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 10  # no sideways scrolling
    shot(page, f"20-messages-{width}")
    page.click("li.msg button:has-text('标为已读')")
    page.wait_for_url(re.compile(r".*/messages(#m\d+)?$"))
    assert page.locator("nav a[href='/messages'] .badge").count() == 0
    assert "已读" in page.inner_text("li.msg .msg-actions")
    page.click("li.msg a:has-text('查看事项')")
    page.wait_for_url(base + "/items/topic-07")
    ctx.close()
    # unread again for the next width (the page has no "mark unread")
    from sqlalchemy import update

    from stages.store.models import Message, make_engine

    eng = make_engine(url)
    with Session(eng) as s:
        s.execute(update(Message).where(Message.recipient == "hqb").values(read_at=None))
        s.commit()
    eng.dispose()
