"""Offline intake in headless Chromium with the network cut (Playwright's offline mode).

Two residents taken in offline survive a reload, then appear as exactly two cases, in the order
taken, once the network returns, each sent with the time it was taken; a case whose
Idempotency-Key already reached the server is not created again; cases taken at yesterday's
event and sent after midnight are taken in as of that day (ADR 32). What the device keeps is
ciphertext, and logging out asks first and wipes it.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from intake_helpers import App, today, todays_event, token, unique_phone
from playwright.async_api import Dialog, Page, Request, Route, async_playwright, expect
from sqlalchemy import select
from test_intake_browser import CHROMIUM, CHROMIUM_ARGS, log_in
from test_intake_planning import event_at_new_venue

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared.clock import JAPAN

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def take_in(page: Page, name: str, kana: str, phone: str, event: str = "") -> None:
    await page.get_by_role("combobox", name="相談会").select_option(event or todays_event())
    await page.get_by_role("textbox", name="氏名 必須", exact=True).fill(name)
    await page.get_by_role("textbox", name="ふりがな 必須").fill(kana)
    await page.get_by_role("textbox", name="電話番号").fill(phone)
    await page.get_by_role("checkbox", name="生活費が足りない").check()
    await page.get_by_role("radio", name="一番困っていること: 生活費が足りない").check()
    await page.get_by_label("共有に同意する").check()
    await page.get_by_label("本人同意").check()
    await page.locator("#consent-contact_channels").get_by_label("電話", exact=True).check()
    await page.get_by_role("button", name="受付を登録する").click()


async def controlled_by_service_worker(page: Page) -> None:
    """Wait until the service worker controls this page. A worker that activates while the
    page is loading claims the page it was registered from, not this one; a reload (still
    online) puts the page under it."""
    await page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    if not await page.evaluate("() => navigator.serviceWorker.controller !== null"):
        await page.reload()
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null")


async def cases_with_phone(base: str, phone: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=base) as client:
        headers = await token(client, "uketsuke")
        r = await client.get("/api/v1/cases", params={"q": phone}, headers=headers)
        assert r.status_code == 200, r.text
        return list(r.json()["items"])


def taken_at_sent(page: Page) -> list[str]:
    """The X-Tsunagu-Taken-At of every case the page posts from here on, in order."""
    sent: list[str] = []

    def note(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/cases/new"):
            sent.append(request.headers.get("x-tsunagu-taken-at", ""))

    page.on("request", note)
    return sent


async def stored_queue(page: Page) -> list[dict]:
    """What IndexedDB holds, as a script on the page reads it (no key needed to read this)."""
    return await page.evaluate(
        """() => new Promise((resolve, reject) => {
          const open = indexedDB.open("tsunagu-offline", 1);
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const all = open.result.transaction("queue").objectStore("queue").getAll();
            all.onsuccess = () => resolve(all.result.map((i) => ({
              seq: i.seq, key: i.key, staff: i.staff, state: i.state, takenAt: i.takenAt,
              text: new TextDecoder("latin1").decode(i.data),
              bytes: i.data.byteLength,
            })));
          };
        })"""
    )


async def test_two_residents_offline_survive_a_reload_then_become_two_cases_in_order(
    served_intake: str, artefacts_dir: Path
) -> None:
    assert shutil.which(CHROMIUM)
    base = served_intake
    phones = [unique_phone(), unique_phone()]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page = await context.new_page()
        try:
            await log_in(page, base, "uketsuke")
            await page.goto(base + "/cases/new")
            await controlled_by_service_worker(page)
            queue = page.locator("#offline-queue")
            await expect(queue).to_contain_text("未送信 0件")
            manifest = await page.evaluate(
                "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
            )
            assert manifest["start_url"] == "/cases/new" and manifest["display"] == "standalone"

            await context.set_offline(True)
            await page.reload()  # served by the service worker
            await expect(queue).to_contain_text("オフラインです")
            # The routing preview needs the network: it says so instead of failing.
            await page.get_by_role("button", name="振り分けを確認").click()
            await expect(page.locator("#preview-offline")).to_be_visible()
            await expect(page.locator("#preview-offline")).to_contain_text(
                "オフラインでは使えません"
            )

            before = datetime.now(UTC) - timedelta(seconds=1)
            await take_in(page, "大宮 一郎", "おおみや いちろう", phones[0])
            await expect(queue).to_contain_text("未送信 1件")
            await take_in(page, "浦和 二葉", "うらわ ふたば", phones[1])
            await expect(queue).to_contain_text("未送信 2件")
            await expect(queue).to_contain_text("この端末（このブラウザ）に暗号化して保存")
            await page.screenshot(
                path=str(artefacts_dir / "offline-two-waiting.png"), full_page=True
            )

            await page.reload()
            await expect(queue).to_contain_text("未送信 2件")
            kept = await stored_queue(page)
            assert [k["staff"] for k in kept] == ["uketsuke", "uketsuke"]
            assert len({k["key"] for k in kept}) == 2  # one Idempotency-Key per case
            for item in kept:  # ciphertext: neither name nor phone readable on the device
                assert item["bytes"] > 100
                assert phones[0] not in item["text"] and phones[1] not in item["text"]
                assert "resident" not in item["text"]
            assert await cases_with_phone(base, phones[0]) == []

            headers = taken_at_sent(page)
            await context.set_offline(False)
            await expect(queue).to_contain_text("未送信 0件", timeout=30_000)
            sent = queue.locator("ul.sent li")
            await expect(sent).to_have_count(2)
            # Each case went with the time it was taken on the device, as kept in the queue.
            assert headers == [k["takenAt"] for k in kept]
            taken = [datetime.fromisoformat(h) for h in headers]
            assert before <= taken[0] <= taken[1] <= datetime.now(UTC)
            await page.screenshot(path=str(artefacts_dir / "offline-sent.png"), full_page=True)
            assert await stored_queue(page) == []

            first, second = [await cases_with_phone(base, ph) for ph in phones]
            assert len(first) == 1 and len(second) == 1  # exactly two cases
            numbers = [first[0]["case_number"], second[0]["case_number"]]
            assert numbers[0] < numbers[1]  # in the order taken
            texts = await sent.all_inner_texts()
            assert texts == [f"送信しました: 受付番号 {n}" for n in numbers]
        finally:
            await context.close()
            await browser.close()


async def test_a_case_whose_key_already_reached_the_server_is_not_doubled(
    served_intake: str, artefacts_dir: Path
) -> None:
    base = served_intake
    phone = unique_phone()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page = await context.new_page()
        try:
            await log_in(page, base, "uketsuke")
            await page.goto(base + "/cases/new")
            await controlled_by_service_worker(page)
            await context.set_offline(True)
            await take_in(page, "与野 三郎", "よの さぶろう", phone)
            queue = page.locator("#offline-queue")
            await expect(queue).to_contain_text("未送信 1件")

            # The first send reaches the server, which creates the case; its answer is lost.
            lost: list[str] = []

            async def lose_the_answer(route: Route) -> None:
                if route.request.method == "POST" and not lost:
                    response = await route.fetch(max_redirects=0)
                    lost.append(str(response.status))
                    await route.abort("connectionreset")
                else:
                    await route.continue_()

            await page.route("**/cases/new", lose_the_answer)
            await context.set_offline(False)
            for _ in range(100):
                if lost:
                    break
                await page.wait_for_timeout(100)
            assert lost == ["303"]
            assert len(await cases_with_phone(base, phone)) == 1
            await expect(queue).to_contain_text("未送信 1件")  # the page did not hear back

            # The page tries again with the same Idempotency-Key: the server shows the same case.
            await page.evaluate("window.dispatchEvent(new Event('online'))")
            await expect(queue).to_contain_text("未送信 0件", timeout=30_000)
            [case] = await cases_with_phone(base, phone)
            await expect(queue.locator("ul.sent li")).to_have_text(
                [f"送信しました: 受付番号 {case['case_number']}"]
            )
        finally:
            await context.close()
            await browser.close()


async def test_logging_out_with_cases_waiting_asks_first_and_wipes_the_device(
    served_intake: str,
) -> None:
    base = served_intake
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page = await context.new_page()
        try:
            await log_in(page, base, "uketsuke")
            await page.goto(base + "/cases/new")
            await controlled_by_service_worker(page)
            await context.set_offline(True)
            await take_in(page, "岩槻 四郎", "いわつき しろう", unique_phone())
            await expect(page.locator("#offline-queue")).to_contain_text("未送信 1件")
            await page.route("**/cases/new", lambda route: route.abort())  # still unsendable
            await context.set_offline(False)

            asked: list[str] = []

            async def decline(dialog: Dialog) -> None:
                asked.append(dialog.message)
                await dialog.dismiss()

            page.once("dialog", decline)
            await page.get_by_role("button", name="ログアウト").click()
            await page.wait_for_timeout(500)
            assert asked and "未送信の相談が 1件" in asked[0]
            assert len(await stored_queue(page)) == 1  # declined: nothing lost, still signed in
            await expect(page.get_by_role("button", name="ログアウト")).to_be_visible()

            page.once("dialog", lambda dialog: dialog.accept())
            await page.get_by_role("button", name="ログアウト").click()
            await expect(page.get_by_role("button", name="ログイン")).to_be_visible()
            assert await stored_queue(page) == []
            keys = await page.evaluate(
                """() => new Promise((resolve) => {
                  const open = indexedDB.open("tsunagu-offline", 1);
                  open.onsuccess = () => {
                    const all = open.result.transaction("keys").objectStore("keys").getAll();
                    all.onsuccess = () => resolve(all.result.length);
                  };
                })"""
            )
            assert keys == 0
            # The kept form page (staff name, CSRF token) is gone; static files may come back.
            kept_form = await page.evaluate(
                """async () => {
                  for (const name of await caches.keys()) {
                    if (await (await caches.open(name)).match("/cases/new")) return true;
                  }
                  return false;
                }"""
            )
            assert kept_form is False
        finally:
            await context.close()
            await browser.close()


async def test_the_board_says_when_it_was_updated_and_never_shows_a_drop_as_current(
    served_intake: str, artefacts_dir: Path
) -> None:
    base = served_intake
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page = await context.new_page()
        try:
            await log_in(page, base, "uketsuke")
            await expect(page.get_by_role("heading", name="当日ボード")).to_be_visible()
            status = page.locator(".live-status").first
            board = page.locator("#board")
            await expect(status).to_contain_text("更新（自動更新中）")
            await expect(board).not_to_have_class(re.compile(r"\bstale\b"))

            await context.set_offline(True)
            await expect(status).to_contain_text("最新ではありません")
            await expect(board).to_have_class(re.compile(r"\bstale\b"))
            await page.screenshot(path=str(artefacts_dir / "board-offline.png"), full_page=True)

            await context.set_offline(False)  # reconnects by itself, no reload
            await expect(status).to_contain_text("更新（自動更新中）", timeout=15_000)
            await expect(board).not_to_have_class(re.compile(r"\bstale\b"))
        finally:
            await context.close()
            await browser.close()


async def test_a_case_the_server_will_not_take_as_it_is_waits_for_review_and_loses_nothing(
    served_intake: str,
) -> None:
    base = served_intake
    phone = unique_phone()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page = await context.new_page()
        try:
            await log_in(page, base, "uketsuke")
            await page.goto(base + "/cases/new")
            await controlled_by_service_worker(page)
            await context.set_offline(True)
            # No concern ticked: the server will ask for one.
            await page.get_by_role("textbox", name="氏名 必須", exact=True).fill("蕨 五月")
            await page.get_by_role("textbox", name="ふりがな 必須").fill("わらび さつき")
            await page.get_by_role("textbox", name="電話番号").fill(phone)
            await page.get_by_label("共有に同意する").check()
            await page.get_by_label("本人同意").check()
            await page.get_by_role("button", name="受付を登録する").click()
            queue = page.locator("#offline-queue")
            await expect(queue).to_contain_text("未送信 1件")

            await context.set_offline(False)
            await expect(queue).to_contain_text("確認が必要な相談", timeout=30_000)
            await expect(queue).to_contain_text("未送信 1件")  # kept, not dropped
            assert await cases_with_phone(base, phone) == []

            await queue.get_by_role("link", name="フォームで開く").click()
            name = page.get_by_role("textbox", name="氏名 必須", exact=True)
            await expect(name).to_have_value("蕨 五月")
            await expect(page.get_by_role("textbox", name="電話番号")).to_have_value(phone)
            await page.get_by_role("checkbox", name="生活費が足りない").check()
            await page.get_by_role("radio", name="一番困っていること: 生活費が足りない").check()
            await page.locator("#consent-contact_channels").get_by_label("電話", exact=True).check()
            await page.get_by_role("button", name="受付を登録する").click()
            await expect(page.get_by_role("heading", name="相談記録")).to_be_visible()
            # The queued copy carries the same key: sending it lands on this case, then it goes.
            await expect(page.locator("#offline-queue")).to_contain_text(
                "未送信 0件", timeout=30_000
            )
            assert len(await cases_with_phone(base, phone)) == 1
        finally:
            await context.close()
            await browser.close()


async def test_cases_taken_offline_at_yesterdays_event_are_taken_in_after_midnight(
    served_intake: str, intake_app: App, artefacts_dir: Path
) -> None:
    """The page was loaded at yesterday's event (its clock then says 16:00 that day, and its
    form offered that day's event); the network came back after midnight."""
    base = served_intake
    yesterday = today() - timedelta(days=1)
    _, event_id = await event_at_new_venue(intake_app, yesterday)
    at_the_event = datetime(yesterday.year, yesterday.month, yesterday.day, 16, tzinfo=JAPAN)
    phones = [unique_phone(), unique_phone()]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(
            viewport={"width": 1280, "height": 800}, locale="ja-JP", timezone_id="Asia/Tokyo"
        )
        page = await context.new_page()
        try:
            await log_in(page, base, "uketsuke")
            await page.goto(base + "/cases/new")
            await controlled_by_service_worker(page)
            await context.set_offline(True)
            await page.reload()  # served by the service worker
            await page.clock.set_fixed_time(at_the_event)
            # Loaded on the event's day, the form offered that day's event.
            await page.evaluate(
                """(id) => document.getElementById("event_id").add(new Option("会場", id))""",
                event_id,
            )
            await take_in(page, "所沢 六郎", "ところざわ ろくろう", phones[0], event_id)
            queue = page.locator("#offline-queue")
            await expect(queue).to_contain_text("未送信 1件")
            # The second one without a concern: the server will ask for one.
            await page.get_by_role("combobox", name="相談会").select_option(event_id)
            await page.get_by_role("textbox", name="氏名 必須", exact=True).fill("狭山 七海")
            await page.get_by_role("textbox", name="ふりがな 必須").fill("さやま ななみ")
            await page.get_by_role("textbox", name="電話番号").fill(phones[1])
            await page.get_by_label("共有に同意する").check()
            await page.get_by_label("本人同意").check()
            await page.get_by_role("button", name="受付を登録する").click()
            await expect(queue).to_contain_text("未送信 2件")

            # After midnight: the device's clock is today's again, the network is back.
            await page.clock.set_fixed_time(datetime.now(UTC))
            headers = taken_at_sent(page)
            await context.set_offline(False)
            await expect(queue).to_contain_text("確認が必要な相談", timeout=30_000)
            await expect(queue.locator("ul.sent li")).to_have_count(1)
            assert [datetime.fromisoformat(h) for h in headers] == [at_the_event] * 2
            review = queue.locator(".alert.warn", has_text="確認が必要な相談")
            day = f"{yesterday.month}/{yesterday.day}"
            await expect(review).to_contain_text(f"（{day} 16:00 受付）")
            await page.screenshot(
                path=str(artefacts_dir / "offline-after-midnight.png"), full_page=True
            )
            [first] = await cases_with_phone(base, phones[0])
            assert first["event_id"] == event_id
            assert first["case_number"].startswith(f"K-{yesterday:%Y%m%d}-")
            assert await cases_with_phone(base, phones[1]) == []

            # Opened back into the form: yesterday's event is offered and chosen, and the case
            # keeps the time it was taken when it is saved.
            await queue.get_by_role("link", name="フォームで開く").click()
            await expect(page.get_by_role("textbox", name="氏名 必須", exact=True)).to_have_value(
                "狭山 七海"
            )
            await expect(page.get_by_role("combobox", name="相談会")).to_have_value(event_id)
            await page.screenshot(path=str(artefacts_dir / "offline-opened-back.png"))
            await page.get_by_role("checkbox", name="生活費が足りない").check()
            await page.get_by_role("radio", name="一番困っていること: 生活費が足りない").check()
            await page.locator("#consent-contact_channels").get_by_label("電話", exact=True).check()
            await page.get_by_role("button", name="受付を登録する").click()
            await expect(page.get_by_role("heading", name="相談記録")).to_be_visible()
            await expect(page.locator("#offline-queue")).to_contain_text(
                "未送信 0件", timeout=30_000
            )
            [second] = await cases_with_phone(base, phones[1])
            assert second["event_id"] == event_id
        finally:
            await context.close()
            await browser.close()

    a = tables.audit_log
    async with intake_app.runtime.sessions() as session:
        details = (
            await session.scalars(
                select(a.c.detail).where(
                    a.c.case_id.in_([first["case_id"], second["case_id"]]),
                    a.c.action == "case.create",
                )
            )
        ).all()
    assert len(details) == 2
    for detail in details:
        assert detail["taken_offline"] is True
        assert datetime.fromisoformat(detail["taken_offline_at"]) == at_the_event
