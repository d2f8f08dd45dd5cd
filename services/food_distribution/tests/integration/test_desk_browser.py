"""The desk page in headless Chromium at 10-inch tablet sizes: find, see, hand out in one tap."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from food_kit import LEAD, Food, token, uid

from tsunagu.shared.auth import COOKIE_NAME

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
LANDSCAPE = {"width": 1280, "height": 800}  # a 10-inch tablet held sideways
PORTRAIT = {"width": 800, "height": 1280}


async def test_desk_on_a_tablet(food: Food, served: str, artefacts_dir: Path) -> None:
    assert shutil.which(str(CHROMIUM)), (
        f"needs {CHROMIUM} (`make test` installs it as root, else: sudo apt-get install chromium fonts-noto-cjk)"
    )
    from playwright.async_api import async_playwright

    ev = uid("ev")
    await food.stock(ev, standard=24, no_pork=6, allergy_friendly=3)  # infant: none
    hanako = await food.case(event_id=ev, case_number="K-2026-0042", name_kana="ヤマダ ハナコ")
    await food.case(event_id=ev, case_number="K-2026-0051", name_kana="ヤマモト タロウ",
                    concerns=["isolation"])  # fmt: skip
    served_before = await food.case(event_id=ev, case_number="K-2026-0017",
                                    name_kana="ヤマグチ ケン")  # fmt: skip
    r = await food.client("sato").post(
        "/api/v1/handouts", json={"case_id": served_before["case_id"], "parcel_type": "no_pork"}
    )
    assert r.status_code == 201

    session = token(food.settings, "tanaka", ["food_desk"], display_name="田中")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(viewport=LANDSCAPE, locale="ja-JP",
                                                device_scale_factor=1, has_touch=True)  # fmt: skip
            await context.add_cookies([{"name": COOKIE_NAME, "value": session, "url": served}])
            page = await context.new_page()

            await page.goto(f"{served}/desk?event_id={ev}")
            await page.get_by_placeholder("相談番号 または ふりがな").fill("やま")
            await page.get_by_role("button", name="検索").click()
            await page.get_by_text("K-2026-0042").click()
            await page.get_by_text("配布対象です").wait_for()
            await page.screenshot(path=artefacts_dir / "desk-landscape.png", full_page=True)

            # Usable by touch: nothing wider than the screen, big targets.
            assert await page.evaluate("document.documentElement.scrollWidth") <= 1280
            give = page.get_by_role("button", name="標準を渡す")
            box = await give.bounding_box()
            assert box is not None and box["height"] >= 48 and box["width"] >= 150
            assert await page.get_by_role("button", name="乳幼児用を渡す").is_disabled()
            page_text = await page.inner_text("body")
            for absent in ("山田", "090-1234-5678", "hanako@example.jp", "川口市", "生活費"):
                assert absent not in page_text

            await give.tap()
            await page.get_by_text("標準を受け渡しました").wait_for()
            assert await page.get_by_role("button", name="標準を渡す").is_disabled()
            assert "tanaka さん" in await page.inner_text("section[aria-label='受け渡し']")
            await page.screenshot(path=artefacts_dir / "desk-after-handout.png", full_page=True)

            # Live stock: another desk hands out; this page follows within a poll or two.
            other = await food.case(event_id=ev)
            await food.client("sato").post(
                "/api/v1/handouts", json={"case_id": other["case_id"], "parcel_type": "standard"}
            )
            tile = page.locator("[data-tile='standard'] [data-stock='standard']")
            await page.wait_for_function(
                "el => el.textContent.trim() === '22'", arg=await tile.element_handle(),
                timeout=10_000,
            )  # fmt: skip

            await page.set_viewport_size(PORTRAIT)
            await page.goto(
                f"{served}/desk?event_id={ev}&q=0017&case_id={served_before['case_id']}"
            )
            await page.get_by_text("受取済: ").wait_for()
            assert await page.evaluate("document.documentElement.scrollWidth") <= 800
            await page.screenshot(path=artefacts_dir / "desk-portrait-served.png", full_page=True)
        finally:
            await browser.close()
    assert hanako["case_id"]


async def test_the_desk_receives_a_delivery_on_a_tablet(
    food: Food, served: str, artefacts_dir: Path
) -> None:
    from playwright.async_api import async_playwright

    ev = uid("ev")
    await food.stock(ev, standard=24, infant=2)
    session = token(food.settings, "tanaka", LEAD, display_name="田中")  # the lead runs stock
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(viewport=PORTRAIT, locale="ja-JP",
                                                device_scale_factor=1, has_touch=True)  # fmt: skip
            await context.add_cookies([{"name": COOKIE_NAME, "value": session, "url": served}])
            page = await context.new_page()
            await page.goto(f"{served}/desk?event_id={ev}")
            tile = page.locator("[data-tile='infant'] [data-stock='infant']")
            assert (await tile.inner_text()).strip() == "2"
            assert "残りわずか" in await page.inner_text("[data-tile='infant']")

            receive = page.get_by_role("form", name="受け入れ")
            await receive.get_by_label("種類").select_option(label="乳幼児用")
            # A typo first: the page says what is wrong, in Japanese, and keeps the rest.
            await receive.get_by_label("数量（個）").fill("十二")
            await receive.get_by_label("フードバンク名・寄付者名").fill("フードバンク埼玉")
            await receive.get_by_role("button", name="受け入れる").tap()
            await page.get_by_text("数量は 1 以上の整数で入力してください").wait_for()
            assert (await tile.inner_text()).strip() == "2"
            receive = page.get_by_role("form", name="受け入れ")
            assert (
                await receive.get_by_label("フードバンク名・寄付者名").input_value()
                == "フードバンク埼玉"
            )

            await receive.get_by_label("数量（個）").fill("12")
            await receive.get_by_role("button", name="受け入れる").tap()
            await page.get_by_text("乳幼児用を 12 個受け入れました").wait_for()
            tile = page.locator("[data-tile='infant'] [data-stock='infant']")
            assert (await tile.inner_text()).strip() == "14"
            assert "残りわずか" not in await page.inner_text("[data-tile='infant']")
            ledger = await page.inner_text("table.ledger")
            assert "フードバンク：フードバンク埼玉" in ledger and "+12" in ledger
            assert await page.evaluate("document.documentElement.scrollWidth") <= 800
            box = await page.get_by_role("button", name="受け入れる").bounding_box()
            assert box is not None and box["height"] >= 48
            await page.screenshot(path=artefacts_dir / "desk-stock-received.png", full_page=True)
        finally:
            await browser.close()


async def test_stock_numbers_from_before_a_drop_are_not_shown_as_current(
    food: Food, served: str, artefacts_dir: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    ev = uid("ev")
    await food.stock(ev, standard=10)
    session = token(food.settings, "tanaka", ["food_desk"], display_name="田中")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(viewport=LANDSCAPE, locale="ja-JP")
            await context.add_cookies([{"name": COOKIE_NAME, "value": session, "url": served}])
            page = await context.new_page()
            await page.goto(f"{served}/desk?event_id={ev}")
            asof, tiles = page.locator(".asof"), page.locator("section.stock")
            await expect(asof).to_contain_text("時点（自動更新）")

            await context.set_offline(True)
            await expect(asof).to_contain_text("最新ではありません", timeout=10_000)
            await expect(tiles).to_have_class(re.compile(r"\bstale\b"))
            other = await food.case(event_id=ev)  # meanwhile another desk hands one out
            r = await food.client("sato").post(
                "/api/v1/handouts", json={"case_id": other["case_id"], "parcel_type": "standard"}
            )
            assert r.status_code == 201
            await page.screenshot(path=artefacts_dir / "desk-offline.png", full_page=True)

            await context.set_offline(False)  # the next poll brings the numbers back
            await expect(
                page.locator("[data-tile='standard'] [data-stock='standard']")
            ).to_have_text("9", timeout=10_000)
            await expect(asof).to_contain_text("時点（自動更新）")
            await expect(tiles).not_to_have_class(re.compile(r"\bstale\b"))
        finally:
            await browser.close()


async def test_linking_a_household_and_pushed_stock_on_a_tablet(
    food: Food, served: str, artefacts_dir: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    feed = food.runtime.stock_feed  # type: ignore[attr-defined]
    await feed.start()  # the served app runs without its lifespan: start the push here
    ev = uid("ev")
    await food.stock(ev, standard=6)
    mother = await food.case(event_id=ev, case_number=uid("K").upper(), name_kana="スズキ ハナ")
    son = await food.case(event_id=ev, case_number=uid("K").upper(), name_kana="スズキ イチロウ")
    session = token(food.settings, "tanaka", ["food_desk"], display_name="田中")
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                context = await browser.new_context(viewport=LANDSCAPE, locale="ja-JP")
                await context.add_cookies([{"name": COOKIE_NAME, "value": session, "url": served}])
                page = await context.new_page()
                await page.goto(f"{served}/desk?event_id={ev}&case_id={son['case_id']}")
                await expect(page.locator(".asof")).to_contain_text("時点（自動更新）")
                number = page.get_by_label("同じ世帯の人の相談番号")
                await number.fill("K-0000")
                await page.get_by_role("button", name="同じ世帯にする").click()
                alert = page.locator("#link-error")
                await expect(alert).to_contain_text(
                    "この相談番号の相談は本日のこの開催にありません"
                )
                await expect(page.get_by_label("同じ世帯の人の相談番号")).to_have_value("K-0000")
                await page.screenshot(path=artefacts_dir / "desk-link-refused.png", full_page=True)

                await page.get_by_label("同じ世帯の人の相談番号").fill(mother["case_number"])
                await page.get_by_role("button", name="同じ世帯にする").click()
                await expect(page.get_by_role("status").first).to_contain_text("同じ世帯にしました")
                await expect(page.locator("section[aria-label='受け渡し']")).to_contain_text(
                    f"同じ世帯として扱っています: 相談番号 {mother['case_number']}"
                )
                await page.screenshot(path=artefacts_dir / "desk-linked.png", full_page=True)

                # Another desk gives the mother her parcel: pushed to this page, no poll.
                assert feed.listening
                r = await food.client("sato").post(
                    "/api/v1/handouts",
                    json={"case_id": mother["case_id"], "parcel_type": "standard"},
                )
                assert r.status_code == 201
                await expect(
                    page.locator("[data-tile='standard'] [data-stock='standard']")
                ).to_have_text("5", timeout=10_000)
                # The son belongs to a household that has had its parcel today.
                await page.reload()
                await expect(page.locator(".status")).to_contain_text("受取済")
                assert await page.get_by_role("button", name="標準を渡す").is_disabled()
                await page.screenshot(path=artefacts_dir / "desk-linked-served.png", full_page=True)
            finally:
                await browser.close()
    finally:
        await feed.stop()
