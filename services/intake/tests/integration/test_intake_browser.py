"""In headless Chromium against intake served by uvicorn: take in the article's example resident.

Routing and food do not run here: the test publishes the ``case_routed`` routing would and the
food desk's ``eligibility_granted``, and the case page shows the referrals as they arrive
(server-sent events), without a reload. Screenshots of the form and the case page are saved for
a person to look at.
"""

from __future__ import annotations

import re
import shutil
import uuid
from datetime import date
from pathlib import Path

import pytest
from intake_helpers import (
    PASSWORD,
    case_routed,
    eligibility_granted,
    publish,
    today,
    todays_event,
)
from playwright.async_api import Page, async_playwright, expect

from tsunagu.intake.domain.normalize import age_on, format_era
from tsunagu.shared.contracts.topics import FOOD, ROUTING_CASE

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def born_78_years_ago() -> date:
    now = today()
    birth = (
        date(now.year - 78, 4, 1) if (now.month, now.day) >= (4, 1) else date(now.year - 79, 4, 1)
    )
    assert age_on(birth, now) == 78
    return birth


async def log_out(page: Page) -> None:
    """Log out and wait until the login page is back: the page first wipes what the device
    keeps for offline intake, then submits, so a navigation started earlier would race it."""
    await page.get_by_role("button", name="ログアウト").click()
    await page.wait_for_url("**/login")


async def log_in(page: Page, base: str, username: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("ユーザー名").fill(username)
    await page.get_by_label("パスワード").fill(PASSWORD)
    await page.get_by_role("button", name="ログイン").click()
    # Wait for the answer to the login: a navigation started before it lands would cancel it.
    await page.wait_for_url(lambda url: "/login" not in url)


async def test_take_in_the_articles_example(
    served_intake: str, intake_settings, artefacts_dir: Path
) -> None:
    assert shutil.which(CHROMIUM), (
        f"needs {CHROMIUM} (`make test` installs it as root, else: sudo apt-get install chromium fonts-noto-cjk)"
    )
    base = served_intake
    phone = "070-" + str(uuid.uuid4().int)[:4] + "-" + str(uuid.uuid4().int)[:4]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page = await context.new_page()
        try:
            await log_in(page, base, "uketsuke")
            await expect(page.get_by_role("heading", name="当日ボード")).to_be_visible()

            await page.get_by_role("link", name="新規受付").first.click()
            await expect(page.get_by_role("heading", name="相談受付・申込票")).to_be_visible()
            await page.get_by_role("combobox", name="相談会").select_option(todays_event())
            await page.get_by_role("textbox", name="氏名 必須", exact=True).fill("川口 ハナ")
            await page.get_by_role("textbox", name="ふりがな 必須").fill("かわぐち はな")
            await page.get_by_role("textbox", name="生年月日").fill(format_era(born_78_years_ago()))
            await page.get_by_label("女性").check()
            await page.get_by_role("textbox", name="住所").fill("埼玉県川口市本町1-2-3")
            await page.get_by_role("textbox", name="電話番号").fill(phone)
            await page.locator("fieldset", has_text="ひとり暮らし").get_by_label("はい").check()
            await page.get_by_role("checkbox", name="生活費が足りない").check()
            await page.get_by_role("checkbox", name="孤立している・誰かと交流したい").check()
            await page.get_by_role("radio", name="一番困っていること: 生活費が足りない").check()
            await page.get_by_label("共有に同意する").check()
            await page.get_by_label("本人同意").check()
            await page.locator("#consent-contact_channels").get_by_label("電話", exact=True).check()
            await page.get_by_role("combobox", name="連絡の時間帯").select_option("afternoon")
            await page.get_by_role("textbox", name="メモ").fill("話し相手がほしいとのこと")

            # The preview asks routing, which is not running: a clear message, not an error.
            await page.get_by_role("button", name="振り分けを確認").click()
            await expect(page.locator("#preview")).to_contain_text(
                "振り分けサービスに接続できません"
            )
            await page.screenshot(path=str(artefacts_dir / "new-case-form.png"), full_page=True)

            await page.get_by_role("button", name="受付を登録する").click()
            await expect(page.get_by_role("heading", name="相談記録")).to_be_visible()
            await expect(page.get_by_text("川口 ハナ（かわぐち はな）")).to_be_visible()
            await expect(page.locator("dd", has_text=re.compile(r"^78$"))).to_be_visible()
            await expect(page.locator("#referrals")).to_contain_text("振り分けの結果を待っています")

            case_id = page.url.rstrip("/").split("/")[-1]
            case_number = (await page.locator("h1 .mono").inner_text()).strip()
            routed = case_routed(case_id, case_number, todays_event())
            await publish(intake_settings.kafka_bootstrap, ROUTING_CASE.name, case_id, routed)
            # The food desk follows routing's decision and says so on its own topic.
            granted = eligibility_granted(case_id, todays_event())
            await publish(intake_settings.kafka_bootstrap, FOOD.name, case_id, granted)

            # No reload: the referrals arrive over server-sent events.
            referrals = page.locator("#referrals table.referrals")
            await expect(referrals).to_contain_text("生活自立サポートセンター", timeout=30_000)
            await expect(referrals).to_contain_text("CSW 参加支援事業")
            await expect(
                referrals.locator("tr", has_text="生活自立サポートセンター")
            ).to_contain_text("主担当")
            await expect(page.locator("#food-status")).to_contain_text("対象です", timeout=30_000)
            await page.screenshot(path=str(artefacts_dir / "case-page.png"), full_page=True)

            # The CSW participation team sees the referral in its inbox and accepts it.
            await log_out(page)
            await log_in(page, base, "csw_participation")
            await expect(
                page.get_by_role("heading", name="窓口の受信箱 — CSW 参加支援事業")
            ).to_be_visible()
            card = page.locator("article", has_text=case_number)
            await expect(card).to_be_visible()
            await card.get_by_role("button", name="受ける").click()
            await expect(page.locator("article", has_text=case_number)).to_contain_text(
                "送信済み・確認待ち"
            )
            await page.screenshot(path=str(artefacts_dir / "inbox.png"), full_page=True)

            # Another programme does not even learn that the case exists.
            await log_out(page)
            await log_in(page, base, "welfare_fund")
            response = await page.goto(f"{base}/cases/{case_id}")
            assert response is not None and response.status == 404
        finally:
            await context.close()
            await browser.close()
