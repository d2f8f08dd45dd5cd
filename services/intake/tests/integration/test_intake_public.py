"""The residents' page and the flyer: no login, five languages, a PDF whose QR code reads back."""

from __future__ import annotations

import io
import re
import shutil
import uuid
from datetime import time, timedelta

import pytest
import zxingcpp
from intake_helpers import App, today, todays_event
from PIL import Image
from playwright.async_api import async_playwright, expect
from pypdf import PdfReader
from test_intake_browser import CHROMIUM, CHROMIUM_ARGS

from tsunagu.intake.service_layer import staff as staff_service

pytestmark = pytest.mark.integration


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_events_page_lists_todays_events_without_a_login(intake_app: App) -> None:
    client = intake_app.client
    client.cookies.clear()
    response = await client.get("/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="ja">' in html
    assert "生活困りごと相談会" in html
    d = today()
    assert f'<time datetime="{d.isoformat()}">{d.year}年{d.month}月{d.day}日' in html
    assert "イオンモール" in html and "東川口駅前行政センター" in html
    assert "10:00" in html and "15:00" in html
    assert "東川口駅から徒歩1分" in html  # access
    assert "生活福祉資金の貸付" in html  # what one can consult about
    assert f"/events/{todays_event()}/flyer.pdf" in html
    # Nothing of the staff side: no login form, no case.
    assert "password" not in html.lower()

    english = (await client.get("/events", params={"lang": "en"})).text
    assert '<html lang="en">' in english
    assert "Coming consultation days" in english
    weekday = d.strftime("%A")
    assert f"{weekday} {d.day} {d:%B} {d.year}" in _text(english)
    assert "Welfare fund loans" in english


@pytest.mark.parametrize(
    ("lang", "attr", "phrase"),
    [
        ("easy", "ja", "<ruby>相談<rp>(</rp><rt>そうだん</rt><rp>)</rp></ruby>"),
        ("zh", "zh-Hans", "近期的咨询会"),
        ("vi", "vi", "Các buổi tư vấn sắp tới"),
        ("xx", "ja", "これからの相談会"),  # an unknown language falls back to Japanese
    ],
)
async def test_the_events_page_speaks_each_language(
    intake_app: App, lang: str, attr: str, phrase: str
) -> None:
    html = (await intake_app.client.get("/events", params={"lang": lang})).text
    assert f'<html lang="{attr}">' in html
    assert phrase in html
    # Every language links to every other, each named in itself.
    for name in ("日本語", "やさしい にほんご", "English", "中文", "Tiếng Việt"):
        assert name in html


async def test_past_events_are_not_listed(intake_app: App) -> None:
    venue_id = f"past-{uuid.uuid4().hex[:8]}"
    past, coming = today() - timedelta(days=3), today() + timedelta(days=3)
    async with intake_app.runtime.sessions() as session, session.begin():
        await staff_service.save_venue(session, "test", venue_id, f"会場 {venue_id}", None)
        for day in (past, coming):
            await staff_service.create_event(
                session,
                "test",
                venue_id=venue_id,
                event_date=day,
                opens_at=time(9),
                closes_at=time(12),
                programmes=["elderly_support"],
            )
    html = (await intake_app.client.get("/events")).text
    assert f"/events/{past:%Y%m%d}-{venue_id}/flyer.pdf" not in html
    assert f"/events/{coming:%Y%m%d}-{venue_id}/flyer.pdf" in html


async def test_the_flyer_is_one_a4_page_whose_qr_code_reads_the_page_address(
    intake_app: App, artefacts_root
) -> None:
    response = await intake_app.client.get(f"/events/{todays_event()}/flyer.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    (artefacts_root / "flyer.pdf").write_bytes(response.content)

    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    width_mm = float(page.mediabox.width) / 72 * 25.4
    height_mm = float(page.mediabox.height) / 72 * 25.4
    assert (round(width_mm), round(height_mm)) == (210, 297)
    # pypdf reads the embedded font's two-byte codes with a NUL before each character.
    text = re.sub(r"\s+", "", page.extract_text().replace("\x00", ""))
    d = today()
    for expected in (
        "生活困りごと相談会",
        f"{d.year}年{d.month}月{d.day}日",
        "10:00〜15:00",
        "イオンモール",
        "相談できること",
        "食料品を無料でお渡ししています",
    ):
        assert expected in text, expected
    assert "（いおんもーる）" not in text  # the venue's reading is for やさしい日本語 only

    images = list(page.images)
    assert len(images) == 1
    picture = Image.open(io.BytesIO(images[0].data))
    codes = zxingcpp.read_barcodes(picture)
    assert [c.text for c in codes] == [intake_app.settings.intake_url.rstrip("/") + "/events"]
    assert codes[0].format == zxingcpp.BarcodeFormat.QRCode


@pytest.mark.parametrize(
    ("lang", "pdf_lang", "phrases"),
    [
        (
            "easy",
            "ja",
            [
                "生活（せいかつ）の困（こま）りごと相談会（そうだんかい）",
                "無料（むりょう）",
                "{date}",
                "場所（ばしょ）イオンモール（いおんもーる）",  # the venue with its reading
            ],
        ),
        ("en", "en", ["Consultation days", "free food parcel", "Hours:10:00〜15:00"]),
        ("zh", "zh-Hans", ["生活困难咨询会", "免费发放食品"]),
        ("vi", "vi", ["Ngàytưvấn", "thựcphẩmmiễnphí"]),
    ],
)
async def test_the_flyer_speaks_the_pages_languages_and_its_qr_code_keeps_the_language(
    intake_app: App, artefacts_root, lang: str, pdf_lang: str, phrases: list[str]
) -> None:
    response = await intake_app.client.get(
        f"/events/{todays_event()}/flyer.pdf", params={"lang": lang}
    )
    assert response.status_code == 200
    assert f"-{lang}.pdf" in response.headers["content-disposition"]
    (artefacts_root / f"flyer-{lang}.pdf").write_bytes(response.content)
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == 1
    assert reader.trailer["/Root"]["/Lang"] == pdf_lang
    page = reader.pages[0]
    text = re.sub(r"\s+", "", page.extract_text().replace("\x00", ""))
    d = today()
    for phrase in phrases:
        # The date is printed plain in every language: readings would break it over lines.
        phrase = phrase.replace("{date}", f"{d.year}年{d.month}月{d.day}日")
        assert re.sub(r"\s+", "", phrase) in text, (phrase, text[:300])
    assert "イオンモール" in text  # the venue's own name, as its sign says
    if lang != "easy":
        assert "いおんもーる" not in text
    [image] = page.images
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)))
    assert code.text == intake_app.settings.intake_url.rstrip("/") + f"/events?lang={lang}"
    # The residents' page in that language links to this flyer.
    html = (await intake_app.client.get("/events", params={"lang": lang})).text
    assert f"/events/{todays_event()}/flyer.pdf?lang={lang}" in html


async def test_a_flyer_for_no_event_is_not_found(intake_app: App) -> None:
    response = await intake_app.client.get("/events/19990101-nowhere/flyer.pdf")
    assert response.status_code == 404


RUBY = "<ruby>{}<rp>(</rp><rt>{}</rt><rp>)</rp></ruby>"


async def test_the_easy_page_sets_each_venues_reading_over_its_name(intake_app: App) -> None:
    client = intake_app.client
    easy = (await client.get("/events", params={"lang": "easy"})).text
    for name, reading in (
        ("東川口駅前行政センター", "ひがしかわぐちえきまえぎょうせいせんたー"),
        ("イオンモール", "いおんもーる"),
        ("クリニック コミュニティスペース", "くりにっく こみゅにてぃすぺーす"),
    ):
        assert f'<dd lang="ja">{RUBY.format(name, reading)}</dd>' in easy, name
    # The other languages show the name as the council typed it, without the reading.
    for lang in ("ja", "en", "zh", "vi"):
        html = (await client.get("/events", params={"lang": lang})).text
        assert '<dd lang="ja">東川口駅前行政センター</dd>' in html, lang
        assert "ひがしかわぐち" not in html, lang


async def test_a_venue_without_a_reading_shows_as_before_and_a_name_is_never_markup(
    intake_app: App, artefacts_root
) -> None:
    plain_id, marked_id = (f"{k}-{uuid.uuid4().hex[:8]}" for k in ("plain", "marked"))
    plain_name = f"よみなし会館 {plain_id}"
    day = today() + timedelta(days=4)
    async with intake_app.runtime.sessions() as session, session.begin():
        await staff_service.save_venue(session, "test", plain_id, plain_name, None)
        await staff_service.save_venue(
            session, "test", marked_id, "<b>会館</b> & {広場|ひろば}", None, name_kana="かいかん"
        )
        for venue_id in (plain_id, marked_id):
            await staff_service.create_event(
                session,
                "test",
                venue_id=venue_id,
                event_date=day,
                opens_at=time(9),
                closes_at=time(12),
                programmes=["elderly_support"],
            )
    easy = (await intake_app.client.get("/events", params={"lang": "easy"})).text
    assert f'<dd lang="ja">{plain_name}</dd>' in easy
    # Both the name and the reading are escaped; braces in a name are not readings.
    marked = RUBY.format("&lt;b&gt;会館&lt;/b&gt; &amp; {広場|ひろば}", "かいかん")
    assert f'<dd lang="ja">{marked}</dd>' in easy
    assert "<b>会館" not in easy and "<rt>ひろば</rt>" not in easy

    response = await intake_app.client.get(
        f"/events/{day:%Y%m%d}-{plain_id}/flyer.pdf", params={"lang": "easy"}
    )
    assert response.status_code == 200
    (artefacts_root / "flyer-easy-no-reading.pdf").write_bytes(response.content)
    page = PdfReader(io.BytesIO(response.content)).pages[0]
    text = re.sub(r"\s+", "", page.extract_text().replace("\x00", ""))
    assert f"場所（ばしょ）よみなし会館{plain_id}お金（かね）" in text, text[:300]


async def test_the_easy_flyer_prints_the_longest_demo_reading_under_the_name_clear_of_the_qr_code(
    intake_app: App, artefacts_root
) -> None:
    response = await intake_app.client.get(
        f"/events/{todays_event('higashikawaguchi')}/flyer.pdf", params={"lang": "easy"}
    )
    assert response.status_code == 200
    (artefacts_root / "flyer-easy-higashikawaguchi.pdf").write_bytes(response.content)
    page = PdfReader(io.BytesIO(response.content)).pages[0]
    lines: list[tuple[float, str]] = []  # (baseline in points from the bottom, text)

    def line(text: str, cm: object, tm: list[float], font: object, size: float) -> None:
        if text.replace("\x00", "").strip():
            lines.append((tm[5], text.replace("\x00", "")))

    text = re.sub(r"\s+", "", page.extract_text(visitor_text=line).replace("\x00", ""))
    assert (
        "場所（ばしょ）東川口駅前行政センター（ひがしかわぐちえきまえぎょうせいせんたー）" in text
    )
    # The name on its line at its size, the reading in brackets on the next.
    [name_y] = [y for y, t in lines if t.endswith("東川口駅前行政センター")]
    [reading_y] = [y for y, t in lines if t == "（ひがしかわぐちえきまえぎょうせいせんたー）"]
    assert reading_y < name_y
    # Beside the QR code there is only what is printed for it: the reading pushes nothing down
    # into it.
    found = re.search(
        rb"([\d.]+) 0 0 ([\d.]+) ([\d.]+) ([\d.]+) cm\s*/I\w+ Do", page.get_contents().get_data()
    )
    assert found is not None
    qr_bottom, qr_top = float(found[4]), float(found[4]) + float(found[2])
    beside = [t.strip() for y, t in lines if qr_bottom <= y <= qr_top]
    url = intake_app.settings.intake_url.rstrip("/") + "/events?lang=easy"
    assert beside[0] == "くわしくは ここを 見（み）てください", beside
    assert "".join(beside[1:]) == url, beside


@pytest.mark.browser
async def test_on_a_phone_the_easy_page_sets_the_venues_reading_over_its_name(
    served_intake: str, artefacts_root
) -> None:
    assert shutil.which(CHROMIUM), f"needs {CHROMIUM}"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 360, "height": 740}, locale="ja-JP")
        try:
            await page.goto(served_intake + "/events?lang=easy")
            ruby = page.locator("dd ruby", has_text="東川口駅前行政センター").first
            await expect(ruby.locator("rt")).to_have_text(
                "ひがしかわぐちえきまえぎょうせいせんたー"
            )
            await ruby.scroll_into_view_if_needed()
            await page.screenshot(path=artefacts_root / "events-easy-phone.png")
            # The reading sits above the name, as furigana does, not beside it in brackets.
            name, reading = await ruby.evaluate(
                """(ruby) => {
                    const box = (node) => {
                        const range = document.createRange();
                        range.selectNodeContents(node);
                        const r = range.getBoundingClientRect();
                        return [r.left, r.top, r.right, r.bottom];
                    };
                    return [box(ruby.firstChild), box(ruby.querySelector("rt").firstChild)];
                }"""
            )
            # (Boxes of the glyphs' lines, which overlap: compare their middles.)
            middle = lambda box: (box[1] + box[3]) / 2  # noqa: E731
            assert middle(reading) < middle(name) - (name[3] - name[1]) / 4, (name, reading)
            assert reading[0] < name[2] and name[0] < reading[2], (name, reading)
            assert await ruby.locator("rp").first.is_hidden()
            # The name with its reading fits the phone: nothing scrolls sideways.
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360
        finally:
            await browser.close()
