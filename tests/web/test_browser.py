"""The console in a real browser: a liaison and the coordinator take a deliverable through 退回 and 通过."""

from __future__ import annotations

import hashlib
import re

import pytest

from .conftest import PASSWORD, shot

pytestmark = pytest.mark.browser


def sign_in(browser, base, username, viewport=(1366, 768)):
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True,
                              locale="zh-CN")
    page = ctx.new_page()
    page.goto(base + "/inbox")
    assert "/login" in page.url  # anonymous: sent to sign in
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/inbox")
    return ctx, page


def test_round_trip_return_resubmit_accept(browser, console, tmp_path):
    base, _db = console
    upload = tmp_path / "形成方案（初稿）.docx"
    upload.write_bytes(b"PK\x03\x04" + "虹桥办课题方案初稿".encode() * 500)

    # the liaison sees only its own items and hands in the plan
    lctx, liaison = sign_in(browser, base, "hqb")
    shot(liaison, "01-liaison-inbox")
    assert "区虹桥办 的待办" in liaison.inner_text("h1") or "虹桥" in liaison.inner_text("h1")
    liaison.goto(base + "/")
    board_text = liaison.inner_text("main")
    assert "区虹桥办" in board_text
    keys = set(re.findall(r"/items/([\w-]+)", liaison.content()))
    assert keys == {"topic-07"}, keys  # 区虹桥办 leads topic 7 only
    liaison.goto(base + "/items/topic-07")
    before = liaison.locator("#ms-plan .l").get_attribute("class")
    liaison.set_input_files("form[data-form=submit-plan] input[type=file]", str(upload))
    liaison.fill("form[data-form=submit-plan] textarea[name=note]", "方案初稿，请审核")
    liaison.click("form[data-form=submit-plan] button")
    shot(liaison, "02a-after-submit")
    assert "已报送" in liaison.inner_text(".flash") or "submitted" in liaison.inner_text(".flash")
    shot(liaison, "02-liaison-submitted")

    # the coordinator opens the file and returns it with comments
    cctx, coord = sign_in(browser, base, "coord")
    coord.goto(base + "/review")
    shot(coord, "03-review-queue")
    assert "形成方案" in coord.inner_text("main")
    with coord.expect_download() as dl:
        coord.click("text=形成方案（初稿）.docx")
    got = dl.value.path()
    assert hashlib.sha256(open(got, "rb").read()).hexdigest() == hashlib.sha256(upload.read_bytes()).hexdigest()
    assert dl.value.suggested_filename == "形成方案（初稿）.docx"
    coord.goto(base + "/items/topic-07")
    coord.fill("form[data-form=review-plan] textarea[name=comments]", "研究框架需进一步聚焦，请补充数据支撑")
    coord.click("form[data-form=review-plan] button[value=return]")
    shot(coord, "03a-after-return")
    assert "退回" in coord.inner_text(".flash") or "returned" in coord.inner_text(".flash")

    # the liaison sees the comments and resubmits
    liaison.goto(base + "/inbox")
    assert "研究框架需进一步聚焦，请补充数据支撑" in liaison.inner_text("main")
    shot(liaison, "04-liaison-returned")
    liaison.goto(base + "/items/topic-07")
    upload2 = tmp_path / "形成方案（修改稿）.pdf"
    upload2.write_bytes(b"%PDF-1.4\n" + b"x" * 2000)
    liaison.set_input_files("form[data-form=submit-plan] input[type=file]", str(upload2))
    liaison.click("form[data-form=submit-plan] button")

    # the coordinator accepts; the board's light for the item changes
    coord.goto(base + "/items/topic-07")
    coord.click("form[data-form=review-plan] button[value=accept]")
    coord.goto(base + "/items/topic-07")
    after = coord.locator("#ms-plan .l").get_attribute("class")
    assert before != after and "done" in after, (before, after)
    coord.goto(base + "/")
    shot(coord, "05-board-after")
    liaison.goto(base + "/")
    assert "确定承接单位" in liaison.inner_text("main")  # topic 7 has moved on to its next milestone
    lctx.close()
    cctx.close()


def test_another_departments_item_by_url_is_403(browser, console):
    base, _ = console
    ctx, page = sign_in(browser, base, "swj")
    resp = page.goto(base + "/items/topic-07")
    assert resp.status == 403
    assert "无权" in page.inner_text("main")
    shot(page, "06-forbidden")
    ctx.close()


def test_phone_width_board_reads(browser, console):
    base, _ = console
    ctx, page = sign_in(browser, base, "coord", viewport=(390, 844))
    page.goto(base + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, width  # no sideways scrolling on a phone
    shot(page, "07-phone-board")
    ctx.close()
