"""The residents' page and flyer in five languages: Japanese, やさしい日本語, English, Chinese, Vietnamese.

やさしい日本語 marks readings as ``{漢字|かんじ}``; ``ruby`` turns them into ``<ruby>`` for the
page, ``bracketed`` into ``漢字（かんじ）`` for the flyer, and ``plain`` drops them. A name from the
database with its reading (a venue's) is never read as markup: ``ruby_of`` takes the two as
they are.
"""

from __future__ import annotations

import re
from datetime import date, time

from markupsafe import Markup, escape

from tsunagu.shared.contracts.codes import Programme

#: ?lang= code → (HTML lang attribute, the language's name in itself)
LANGUAGES: dict[str, tuple[str, str]] = {
    "ja": ("ja", "日本語"),
    "easy": ("ja", "やさしい にほんご"),
    "en": ("en", "English"),
    "zh": ("zh-Hans", "中文"),
    "vi": ("vi", "Tiếng Việt"),
}

_RUBY = re.compile(r"\{([^|{}]+)\|([^{}]+)\}")
_RUBY_HTML = Markup("<ruby>{}<rp>(</rp><rt>{}</rt><rp>)</rp></ruby>")


def ruby(text: str) -> Markup:
    """``{相談|そうだん}`` → ``<ruby>相談<rt>そうだん</rt></ruby>``; everything else escaped."""
    out = Markup("")
    last = 0
    for m in _RUBY.finditer(text):
        out += escape(text[last : m.start()])
        out += _RUBY_HTML.format(m.group(1), m.group(2))
        last = m.end()
    return out + escape(text[last:])


def ruby_of(name: str, reading: str | None) -> Markup:
    """A name with its reading over it, both escaped; the name alone without one."""
    return _RUBY_HTML.format(name, reading) if reading else escape(name)


def plain(text: str) -> str:
    return _RUBY.sub(lambda m: m.group(1), text)


def bracketed(text: str) -> str:
    """``{相談|そうだん}`` → ``相談（そうだん）``: readings on paper, where ruby cannot go."""
    return _RUBY.sub(lambda m: f"{m.group(1)}（{m.group(2)}）", text)


# key → ja, easy, en, zh, vi
WORDS: dict[str, tuple[str, str, str, str, str]] = {
    "title": (
        "生活困りごと相談会",
        "{生活|せいかつ}の{困|こま}りごと{相談会|そうだんかい}",
        "Consultation days for life's difficulties",
        "生活困难咨询会",
        "Ngày tư vấn về khó khăn trong cuộc sống",
    ),
    "council": (
        "社会福祉協議会",
        "{社会福祉協議会|しゃかいふくしきょうぎかい}",
        "Social Welfare Council",
        "社会福利协议会",
        "Hội đồng Phúc lợi Xã hội",
    ),
    "lead": (
        "お金、仕事、住まい、家族、介護、障害など、暮らしの困りごとをまとめて相談できます。"
        "いくつもの窓口が同じ会場にいます。相談は無料で、秘密は守ります。",
        "お{金|かね}、{仕事|しごと}、{家|いえ}、{家族|かぞく}などで{困|こま}っていることを、"
        "1つの{場所|ばしょ}で{相談|そうだん}できます。{相談|そうだん}は{無料|むりょう}です。"
        "あなたの{秘密|ひみつ}は{守|まも}ります。",
        "Money, work, housing, family, care, disability: bring every worry to one place. "
        "Several support services sit together at the venue. Advice is free and confidential.",
        "金钱、工作、住房、家庭、护理、残障等生活上的困难，都可以在同一个地方咨询。"
        "多个窗口在同一会场。咨询免费，我们会为您保密。",
        "Tiền bạc, công việc, nhà ở, gia đình, chăm sóc, khuyết tật: bạn có thể trao đổi mọi "
        "khó khăn tại một nơi. Nhiều bộ phận hỗ trợ có mặt cùng lúc. Tư vấn miễn phí và được "
        "giữ bí mật.",
    ),
    "food": (
        "経済的にお困りの方には、食料品を無料でお渡ししています。",
        "お{金|かね}に{困|こま}っている{人|ひと}には、{食|た}べ{物|もの}を{無料|むりょう}で"
        "わたします。",
        "If money is tight, you can receive a free food parcel.",
        "对经济困难的人士，我们免费发放食品。",
        "Người gặp khó khăn về kinh tế có thể nhận thực phẩm miễn phí.",
    ),
    "upcoming": (
        "これからの相談会",
        "これからの{相談会|そうだんかい}",
        "Coming consultation days",
        "近期的咨询会",
        "Các buổi tư vấn sắp tới",
    ),
    "none": (
        "予定されている相談会はまだありません。",
        "いまは、{相談会|そうだんかい}の{予定|よてい}はありません。",
        "No consultation day is planned yet.",
        "目前还没有安排咨询会。",
        "Hiện chưa có buổi tư vấn nào được lên lịch.",
    ),
    "today": ("本日", "きょう", "Today", "今天", "Hôm nay"),
    "date": ("日にち", "{日|ひ}にち", "Date", "日期", "Ngày"),
    "hours": ("時間", "{時間|じかん}", "Hours", "时间", "Giờ"),
    "venue": ("会場", "{場所|ばしょ}", "Venue", "会场", "Địa điểm"),
    "address": ("住所", "{住所|じゅうしょ}", "Address", "地址", "Địa chỉ"),
    "access": ("交通", "{行|い}きかた", "Getting there", "交通方式", "Cách đi"),
    "topics": (
        "相談できること",
        "{相談|そうだん}できること",
        "What you can ask about",
        "可以咨询的内容",
        "Bạn có thể hỏi về",
    ),
    "flyer": (
        "チラシ（PDF・A4）",
        "チラシ（PDF）",
        "Flyer (PDF, A4, Japanese)",
        "传单（PDF，A4，日语）",
        "Tờ rơi (PDF, A4, tiếng Nhật)",
    ),
    "languages": ("言語", "ことば", "Language", "语言", "Ngôn ngữ"),
    "scan": (
        "くわしくはこちら",
        "くわしくは ここを {見|み}てください",
        "Details online",
        "详情请扫码",
        "Xem chi tiết",
    ),
}

#: What one can consult about, and which programme at the event takes it.
TOPICS: tuple[tuple[str, frozenset[Programme], tuple[str, str, str, str, str]], ...] = (
    (
        "money",
        frozenset({Programme.LIFE_INDEPENDENCE}),
        (
            "生活費・借金・滞納・住まい・仕事",
            "{生活|せいかつ}のお{金|かね}、{借金|しゃっきん}、{家|いえ}、{仕事|しごと}",
            "Living costs, debts and arrears, housing, work",
            "生活费、借款与欠费、住房、工作",
            "Chi phí sinh hoạt, nợ nần, nhà ở, việc làm",
        ),
    ),
    (
        "loans",
        frozenset({Programme.WELFARE_FUND}),
        (
            "生活福祉資金の貸付、特例貸付の返済・猶予",
            "お{金|かね}を{借|か}りること、{特例貸付|とくれいかしつけ}を{返|かえ}すこと",
            "Welfare fund loans; repaying or deferring COVID special loans",
            "生活福利资金贷款；特例贷款的还款与缓期",
            "Vay quỹ phúc lợi; trả nợ hoặc hoãn trả khoản vay đặc biệt thời COVID",
        ),
    ),
    (
        "isolation",
        frozenset({Programme.CSW_OUTREACH, Programme.CSW_PARTICIPATION}),
        (
            "ひきこもり・孤立・居場所や交流",
            "ひきこもり、ひとりで{寂|さび}しい、{話|はな}せる{場所|ばしょ}がほしい",
            "Social withdrawal, loneliness, places to meet people",
            "闭门不出、孤立、想找交流的地方",
            "Thu mình ở nhà, cô đơn, muốn có nơi giao lưu",
        ),
    ),
    (
        "elderly",
        frozenset({Programme.ELDERLY_SUPPORT}),
        (
            "高齢の方の介護・暮らし",
            "お{年寄|としよ}りの{介護|かいご}や{生活|せいかつ}",
            "Care and daily life in old age",
            "老年人的护理与生活",
            "Chăm sóc và cuộc sống của người cao tuổi",
        ),
    ),
    (
        "guardianship",
        frozenset({Programme.ADULT_GUARDIANSHIP}),
        (
            "認知症・お金の管理・成年後見",
            "{認知症|にんちしょう}、お{金|かね}の{管理|かんり}が{難|むずか}しい",
            "Dementia, managing money, adult guardianship",
            "认知症、金钱管理、成年监护",
            "Sa sút trí tuệ, quản lý tiền bạc, giám hộ người thành niên",
        ),
    ),
    (
        "disability",
        frozenset({Programme.DISABILITY_SUPPORT}),
        (
            "障害のこと・障害福祉サービス",
            "{障害|しょうがい}のこと",
            "Disability and disability services",
            "残障及残障福利服务",
            "Khuyết tật và dịch vụ hỗ trợ người khuyết tật",
        ),
    ),
)

_INDEX = {code: i for i, code in enumerate(LANGUAGES)}
_WEEKDAYS = {
    "ja": "月火水木金土日",
    "zh": "一二三四五六日",
}
_WEEKDAYS_EASY = ("げつ", "か", "すい", "もく", "きん", "ど", "にち")
_WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def language(code: str | None) -> str:
    return code if code in LANGUAGES else "ja"


def word(lang: str, key: str) -> str:
    return WORDS[key][_INDEX[language(lang)]]


def topics(lang: str, programmes: set[Programme]) -> list[str]:
    """The topics of the programmes present, in the page's order."""
    i = _INDEX[language(lang)]
    return [texts[i] for _, needs, texts in TOPICS if needs & programmes]


def day(lang: str, value: date) -> str:
    """A date as people of that language write it (with ruby markup for やさしい日本語)."""
    wd = value.weekday()
    if lang == "en":
        return f"{_WEEKDAYS_EN[wd]} {value.day} {_MONTHS_EN[value.month - 1]} {value.year}"
    if lang == "vi":
        return f"{_WEEKDAYS_VI[wd]}, ngày {value.day} tháng {value.month} năm {value.year}"
    if lang == "zh":
        return f"{value.year}年{value.month}月{value.day}日（星期{_WEEKDAYS['zh'][wd]}）"
    if lang == "easy":
        name = "月火水木金土日"[wd]
        return (
            f"{value.year}{{年|ねん}} {value.month}{{月|がつ}} {value.day}{{日|にち}}"
            f"（{{{name}|{_WEEKDAYS_EASY[wd]}}}{{曜日|ようび}}）"
        )
    return f"{value.year}年{value.month}月{value.day}日（{_WEEKDAYS['ja'][wd]}）"


def hours(opens: time, closes: time) -> str:
    return f"{opens:%H:%M}〜{closes:%H:%M}"
