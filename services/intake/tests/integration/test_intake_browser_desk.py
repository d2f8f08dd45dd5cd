"""In headless Chromium: a DV case taken in with its safe contact, its warning, and the search box."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from intake_helpers import todays_event
from playwright.async_api import async_playwright, expect
from test_intake_browser import CHROMIUM, CHROMIUM_ARGS, log_in

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_a_dv_case_asks_for_a_safe_contact_warns_and_is_found_by_search(
    served_intake: str, artefacts_dir: Path
) -> None:
    assert shutil.which(CHROMIUM)
    base = served_intake
    mobile = "080" + str(uuid.uuid4().int)[:8]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page = await context.new_page()
        try:
            await log_in(page, base, "uketsuke")
            await page.goto(base + "/cases/new")
            await page.get_by_role("combobox", name="相談会").select_option(todays_event())
            await page.get_by_role("textbox", name="氏名 必須", exact=True).fill("青木 ゆうみ")
            await page.get_by_role("textbox", name="ふりがな 必須").fill("あおき ゆうみ")
            await page.get_by_role("textbox", name="住所").fill("埼玉県川口市青木2-2-2")
            await page.get_by_role("textbox", name="電話番号").fill(mobile)
            await page.get_by_role("checkbox", name="DV・虐待").check()
            await page.get_by_label("共有に同意する").check()
            await page.get_by_label("本人同意").check()
            channels = page.locator("#consent-contact_channels")
            await channels.get_by_label("SMS", exact=True).check()
            await channels.get_by_label("手紙", exact=True).check()
            # Saving without a safe contact: asked for it, nothing lost.
            await page.get_by_role("button", name="受付を登録する").click()
            await expect(page.locator("#consent-safe_contact")).to_contain_text(
                "安全な連絡方法を選んで"
            )
            await expect(page.get_by_role("textbox", name="ふりがな 必須")).to_have_value(
                "あおき ゆうみ"
            )
            await page.screenshot(
                path=str(artefacts_dir / "dv-safe-contact-asked.png"), full_page=True
            )
            await page.locator("#consent-safe_contact-select").select_option("sms")
            await page.get_by_role("button", name="受付を登録する").click()
            await expect(page.get_by_role("heading", name="相談記録")).to_be_visible()
            warning = page.locator("#at-risk")
            await expect(warning).to_contain_text("【要注意】")
            await expect(warning).to_contain_text("SMS")
            await page.screenshot(path=str(artefacts_dir / "dv-case-page.png"), full_page=True)
            case_number = (await page.locator("h1 .mono").inner_text()).strip()

            # The header's search box: furigana one kana off, then the last four digits.
            box = page.get_by_role("searchbox", name="ケースを検索")
            await box.fill("あおきゆみ")
            await box.press("Enter")
            await expect(page.locator("table.list")).to_contain_text(case_number)
            await page.screenshot(path=str(artefacts_dir / "search-results.png"), full_page=True)
            box = page.get_by_role("searchbox", name="ケースを検索")
            await box.fill(case_number[-4:])
            await box.press("Enter")
            await expect(page.locator("table.list")).to_contain_text(case_number)
        finally:
            await context.close()
            await browser.close()
