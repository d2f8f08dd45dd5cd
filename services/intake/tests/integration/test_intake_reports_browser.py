"""On a phone-sized screen in headless Chromium: the report with its charts, and the residents' page.

Screenshots land in test-output/intake/ for a person to look at.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import httpx
import pytest
from intake_helpers import PASSWORD, case_body, todays_event
from playwright.async_api import Page, async_playwright, expect

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run"]
PHONE = {"width": 390, "height": 844}


async def fits_the_screen(page: Page) -> None:
    """Nothing wider than the screen: no sideways scrolling of the page."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px screen"


def take_in_one(base: str) -> None:
    """One more case at today's event, through the API, so the charts have something to draw."""
    with httpx.Client(base_url=base, timeout=10) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "uketsuke", "password": PASSWORD}
        ).json()["access_token"]
        body = case_body()
        body["resident"]["phone"] = "080" + str(uuid.uuid4().int)[:8]
        response = client.post(
            "/api/v1/cases", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 201, response.text


async def test_report_and_residents_page_on_a_phone(
    served_intake: str, artefacts_root: Path
) -> None:
    assert shutil.which(CHROMIUM), (
        f"needs {CHROMIUM} (sudo apt-get install chromium fonts-noto-cjk)"
    )
    base = served_intake
    take_in_one(base)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="ja-JP"
        )
        page = await context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        try:
            # Residents' page, no login: Japanese, then やさしい日本語 and English.
            await page.goto(base + "/events")
            await expect(page.get_by_role("heading", name="生活困りごと相談会")).to_be_visible()
            await expect(page.get_by_role("heading", name="これからの相談会")).to_be_visible()
            await expect(page.locator("article.event").first).to_contain_text("本日")
            await fits_the_screen(page)
            await page.screenshot(path=str(artefacts_root / "phone-events-ja.png"), full_page=True)

            await page.get_by_role("link", name="やさしい にほんご").click()
            await expect(page.locator("h1 ruby").first).to_contain_text("せいかつ")
            await fits_the_screen(page)
            await page.screenshot(path=str(artefacts_root / "phone-events-easy.png"))

            await page.get_by_role("link", name="English").click()
            await expect(
                page.get_by_role("heading", name="Coming consultation days")
            ).to_be_visible()
            await fits_the_screen(page)
            await page.screenshot(path=str(artefacts_root / "phone-events-en.png"))

            # The report, as a manager.
            await page.goto(base + "/login?lang=ja")
            await page.get_by_label("ユーザー名").fill("manager")
            await page.get_by_label("パスワード").fill(PASSWORD)
            await page.get_by_role("button", name="ログイン").click()
            await expect(page.get_by_role("heading", name="相談会の報告")).to_be_visible()
            await page.goto(base + f"/reports?event_id={todays_event()}")
            await expect(page.locator("[data-figure=cases]")).not_to_have_text("0", timeout=30_000)
            for chart in ("chart-per-event", "chart-concerns", "chart-outcomes"):
                drawn = await page.evaluate(
                    "id => { const c = Chart.getChart(id); return !!c && c.data.datasets.length }",
                    chart,
                )
                assert drawn, chart
            await fits_the_screen(page)
            await page.screenshot(path=str(artefacts_root / "phone-report.png"), full_page=True)
            await page.emulate_media(media="print")
            await page.screenshot(
                path=str(artefacts_root / "phone-report-print.png"), full_page=True
            )
            assert problems == []
        finally:
            await context.close()
            await browser.close()
