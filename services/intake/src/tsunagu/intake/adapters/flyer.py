"""The printable A4 flyer of an event: a PDF (fpdf2) with a QR code (segno) to the events page.

Japanese needs a CJK font embedded in the PDF. We use Noto Sans CJK, which the image copies in
and which development machines get from the ``fonts-noto-cjk`` package (the same font the
browser tests use); ``TSUNAGU_EXTRA='{"flyer_font": "/path/to/font.ttc"}'`` names another.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos

#: Where Noto Sans CJK is on Debian and Ubuntu (fonts-noto-cjk) and in the image.
FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
)


class FontMissing(RuntimeError):
    """No CJK font to print Japanese with."""


def find_font(configured: str | None = None) -> Path:
    candidates = (Path(configured),) if configured else FONT_CANDIDATES
    for path in candidates:
        if path.is_file():
            return path
    raise FontMissing("no CJK font found: install fonts-noto-cjk or set extra.flyer_font")


@dataclass(frozen=True)
class FlyerText:
    """Everything the flyer prints, already in its language (``lang``, as in HTML: ja, en,
    zh-Hans, vi); the page's address for the QR code. ``venue_reading``: the venue name's
    reading, printed in brackets under the name (やさしい日本語), or None."""

    lang: str
    council: str
    title: str
    date: str
    hours: str
    venue: str
    address: str | None
    access: str | None
    lead: str
    topics_heading: str
    topics: Sequence[str]
    food: str
    scan: str
    url: str
    labels: dict[str, str]
    venue_reading: str | None = None


def qr_png(url: str, scale: int = 12) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


#: Rendered flyers by what they print: embedding the CJK font takes seconds of CPU, and the page
#: is public, so the same flyer asked again is served from here.
_CACHE: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_CACHE_SIZE = 64
_LOCK = threading.Lock()


def render(text: FlyerText, font: Path) -> bytes:
    """The flyer's PDF, from the cache when the same text was rendered before."""
    key = (repr(text), str(font))
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    pdf = _render(text, font)
    with _LOCK:
        _CACHE[key] = pdf
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return pdf


def _render(text: FlyerText, font: Path) -> bytes:
    """One A4 page, portrait, large type; the QR code at the bottom right."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(f"{text.title} {text.date}")
    pdf.set_lang(text.lang)
    pdf.set_creator("Tsunagu")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(18, 16, 18)
    # The collection's faces: 0 is Japanese (Noto Sans CJK JP), 2 simplified Chinese; each
    # draws the shared ideographs as its readers write them. Both carry Latin and Vietnamese.
    face = 2 if text.lang.startswith("zh") else 0
    kwargs = {"collection_font_number": face} if font.suffix.lower() == ".ttc" else {}
    pdf.add_font("cjk", fname=str(font), **kwargs)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    # Labels and bullets as each script sets them.
    cjk = text.lang.startswith(("ja", "zh"))
    sep, bullet = ("　", "・") if cjk else (": ", "• ")

    pdf.set_fill_color(0, 82, 147)
    pdf.rect(0, 0, pdf.w, 42, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(18, 8)
    pdf.set_font("cjk", size=13)
    pdf.cell(width, 7, text.council)
    pdf.set_xy(18, 17)
    # A long title (English, Vietnamese) is set smaller to stay on the band's one line.
    size = 30
    pdf.set_font("cjk", size=size)
    while size > 16 and pdf.get_string_width(text.title) > width:
        size -= 1
        pdf.set_font("cjk", size=size)
    pdf.cell(width, 16, text.title)
    pdf.set_text_color(20, 20, 20)

    pdf.set_xy(18, 50)
    pdf.set_font("cjk", size=22)
    pdf.multi_cell(width, 11, text.date, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=18)
    pdf.multi_cell(
        width, 10, f"{text.labels['hours']}{sep}{text.hours}", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.multi_cell(
        width, 10, f"{text.labels['venue']}{sep}{text.venue}", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    if text.venue_reading:
        # Under the name, where it starts, and smaller: a long name and its reading on one line
        # at the name's size would take three lines and push the rest into the QR code.
        indent = pdf.get_string_width(f"{text.labels['venue']}{sep}")
        pdf.set_font("cjk", size=13)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(
            width - indent, 7, f"（{text.venue_reading}）", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    pdf.set_font("cjk", size=12)
    if text.address:
        pdf.multi_cell(
            width,
            7,
            f"{text.labels['address']}{sep}{text.address}",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    if text.access:
        pdf.multi_cell(
            width,
            7,
            f"{text.labels['access']}{sep}{text.access}",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )

    pdf.ln(5)
    pdf.set_font("cjk", size=13)
    pdf.multi_cell(width, 7.5, text.lead, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("cjk", size=15)
    pdf.multi_cell(width, 9, text.topics_heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=13)
    for topic in text.topics:
        pdf.multi_cell(width, 8, f"{bullet}{topic}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font("cjk", size=13)
    pdf.multi_cell(width, 7.5, text.food, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    size = 45
    x, y = pdf.w - pdf.r_margin - size, pdf.h - 22 - size
    pdf.image(io.BytesIO(qr_png(text.url)), x=x, y=y, w=size, h=size)
    pdf.set_xy(pdf.l_margin, y + 12)
    pdf.set_font("cjk", size=16)
    pdf.multi_cell(width - size - 6, 9, text.scan, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=12)
    pdf.multi_cell(width - size - 6, 7, text.url, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
