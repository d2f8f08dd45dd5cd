"""Why routing decided as it did: reasons as data (a code and its parameters), and their words.

Routing's events and API carry each reason as ``{"code": ..., "params": {...}}``; whoever shows a
reason renders it here, in the reader's language (the five of ``Language``). Parameters are
codes (concerns, flags) and numbers, never personal data.

| code                   | params                          | why                                  |
|------------------------|---------------------------------|--------------------------------------|
| concern                | concern                         | rule 1: a concern reaches the programme |
| age_and_concern        | age, threshold, concern         | rule 2: age at or over the threshold |
| disability_certificate |                                 | rule 3                               |
| special_loan_borrower  |                                 | rule 4                               |
| compound_programmes    | count                           | rule 5: this many programmes         |
| compound_concerns      | concerns                        | rule 5: a compound concern           |
| lead_coordinator       |                                 | rule 5: the coordinator leads        |
| lead_most_pressing     | concern                         | rule 6                               |
| lead_first_concern     | concern                         | rule 6                               |
| lead_first_programme   |                                 | rule 6                               |
| lead_default           |                                 | rule 6: nothing else reached         |
| no_programme_reached   |                                 | rule 6: the default lead             |
| requested_after_decline |                                | staff took routing's suggestion      |
| requested_by_staff     |                                 | staff added the programme            |
| flag                   | flag                            | rule 8: an urgent flag               |
| text                   | text                            | an event written before reasons were data |
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tsunagu.shared.contracts.codes import CONCERN_LABELS_JA, Concern, Language


class ReasonCode(StrEnum):
    CONCERN = "concern"
    AGE_AND_CONCERN = "age_and_concern"
    DISABILITY_CERTIFICATE = "disability_certificate"
    SPECIAL_LOAN_BORROWER = "special_loan_borrower"
    COMPOUND_PROGRAMMES = "compound_programmes"
    COMPOUND_CONCERNS = "compound_concerns"
    LEAD_COORDINATOR = "lead_coordinator"
    LEAD_MOST_PRESSING = "lead_most_pressing"
    LEAD_FIRST_CONCERN = "lead_first_concern"
    LEAD_FIRST_PROGRAMME = "lead_first_programme"
    LEAD_DEFAULT = "lead_default"
    NO_PROGRAMME_REACHED = "no_programme_reached"
    REQUESTED_AFTER_DECLINE = "requested_after_decline"
    REQUESTED_BY_STAFF = "requested_by_staff"
    FLAG = "flag"
    TEXT = "text"


class Reason(BaseModel):
    """One reason: a code and its parameters (codes and numbers only)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: ReasonCode
    params: dict[str, str | int | list[str]] = Field(default_factory=dict)


def upgrade_reasons(value: Any) -> Any:
    """Reasons as older events carry them (English sentences) become ``text`` reasons, so that
    an event written before reasons were data still reads."""
    if isinstance(value, list):
        return [{"code": "text", "params": {"text": r}} if isinstance(r, str) else r for r in value]
    if isinstance(value, str):
        return [{"code": "text", "params": {"text": part}} for part in value.split("; ") if part]
    return value


# --- words ----------------------------------------------------------------------------------

_L = Language

CONCERN_LABELS: dict[Language, dict[Concern, str]] = {
    _L.JA: CONCERN_LABELS_JA,
    _L.EN: {
        Concern.INCOME_SHORTFALL: "not enough to live on",
        Concern.DEBT_ARREARS: "debts or arrears",
        Concern.SPECIAL_LOAN_REPAYMENT: "repaying a special loan",
        Concern.LOAN_REQUEST: "wants a loan",
        Concern.HOUSING: "housing",
        Concern.EMPLOYMENT: "work",
        Concern.FOOD_INSECURITY: "not enough food",
        Concern.ISOLATION: "isolation",
        Concern.HIKIKOMORI: "social withdrawal (hikikomori)",
        Concern.FAMILY_8050: "elderly parent with a jobless adult child (8050)",
        Concern.ELDERLY_CARE: "care and life in old age",
        Concern.DEMENTIA_MONEY: "dementia, managing money",
        Concern.GUARDIANSHIP: "adult guardianship",
        Concern.DISABILITY: "disability",
        Concern.HEALTH: "health",
        Concern.CHILDCARE: "raising children",
        Concern.DV_ABUSE: "domestic violence or abuse",
    },
    _L.JA_EASY: {
        Concern.INCOME_SHORTFALL: "くらしの おかねが たりない",
        Concern.DEBT_ARREARS: "かりた おかねや はらっていない おかねが ある",
        Concern.SPECIAL_LOAN_REPAYMENT: "とくれい かしつけの へんさい",
        Concern.LOAN_REQUEST: "おかねを かりたい",
        Concern.HOUSING: "すむ ところの こと",
        Concern.EMPLOYMENT: "しごとの こと",
        Concern.FOOD_INSECURITY: "たべものが たりない",
        Concern.ISOLATION: "ひとりで さびしい",
        Concern.HIKIKOMORI: "いえから でられない",
        Concern.FAMILY_8050: "としよりの おやと しごとの ない こどもの かぞく",
        Concern.ELDERLY_CARE: "かいご・としよりの くらし",
        Concern.DEMENTIA_MONEY: "にんちしょう・おかねの かんり",
        Concern.GUARDIANSHIP: "せいねん こうけん",
        Concern.DISABILITY: "しょうがいの こと",
        Concern.HEALTH: "からだや こころの けんこう",
        Concern.CHILDCARE: "こそだて",
        Concern.DV_ABUSE: "ぼうりょく・ぎゃくたい",
    },
    _L.ZH: {
        Concern.INCOME_SHORTFALL: "生活费不足",
        Concern.DEBT_ARREARS: "有借款或欠费",
        Concern.SPECIAL_LOAN_REPAYMENT: "特例贷款的还款",
        Concern.LOAN_REQUEST: "希望借款",
        Concern.HOUSING: "住房问题",
        Concern.EMPLOYMENT: "工作问题",
        Concern.FOOD_INSECURITY: "食物不足",
        Concern.ISOLATION: "孤立",
        Concern.HIKIKOMORI: "闭门不出（家里蹲）",
        Concern.FAMILY_8050: "高龄父母与无业子女的家庭（8050）",
        Concern.ELDERLY_CARE: "护理与老年生活",
        Concern.DEMENTIA_MONEY: "认知症、难以管理钱财",
        Concern.GUARDIANSHIP: "成年监护",
        Concern.DISABILITY: "残障",
        Concern.HEALTH: "健康与医疗",
        Concern.CHILDCARE: "育儿",
        Concern.DV_ABUSE: "家庭暴力、虐待",
    },
    _L.VI: {
        Concern.INCOME_SHORTFALL: "không đủ tiền sinh hoạt",
        Concern.DEBT_ARREARS: "có nợ hoặc khoản chưa trả",
        Concern.SPECIAL_LOAN_REPAYMENT: "trả khoản vay đặc biệt",
        Concern.LOAN_REQUEST: "muốn vay tiền",
        Concern.HOUSING: "nhà ở",
        Concern.EMPLOYMENT: "việc làm",
        Concern.FOOD_INSECURITY: "không đủ thức ăn",
        Concern.ISOLATION: "cô lập",
        Concern.HIKIKOMORI: "thu mình ở nhà (hikikomori)",
        Concern.FAMILY_8050: "cha mẹ cao tuổi và con không có việc làm (8050)",
        Concern.ELDERLY_CARE: "chăm sóc và cuộc sống tuổi già",
        Concern.DEMENTIA_MONEY: "sa sút trí tuệ, khó quản lý tiền",
        Concern.GUARDIANSHIP: "giám hộ người thành niên",
        Concern.DISABILITY: "khuyết tật",
        Concern.HEALTH: "sức khỏe",
        Concern.CHILDCARE: "nuôi con",
        Concern.DV_ABUSE: "bạo lực gia đình, ngược đãi",
    },
}

FLAG_LABELS: dict[Language, dict[str, str]] = {
    _L.JA: {"no_food_today": "今日食べるものがない", "eviction_within_7_days": "7日以内に退去"},
    _L.EN: {"no_food_today": "no food today", "eviction_within_7_days": "eviction within 7 days"},
    _L.JA_EASY: {
        "no_food_today": "きょう たべる ものが ない",
        "eviction_within_7_days": "7にち いないに いえを でなければ ならない",
    },
    _L.ZH: {"no_food_today": "今天没有食物", "eviction_within_7_days": "7天内须搬离住所"},
    _L.VI: {
        "no_food_today": "hôm nay không có gì để ăn",
        "eviction_within_7_days": "phải rời nhà trong 7 ngày",
    },
}

#: code → language → template; ``{concern}``/``{concerns}``/``{flag}`` are rendered as words.
TEMPLATES: dict[ReasonCode, dict[Language, str]] = {
    ReasonCode.CONCERN: {
        _L.JA: "相談内容「{concern}」",
        _L.EN: "concern: {concern}",
        _L.JA_EASY: "そうだん「{concern}」",
        _L.ZH: "咨询内容：{concern}",
        _L.VI: "vấn đề: {concern}",
    },
    ReasonCode.AGE_AND_CONCERN: {
        _L.JA: "{age}歳（{threshold}歳以上）で「{concern}」",
        _L.EN: "aged {age} ({threshold} or over) with {concern}",
        _L.JA_EASY: "{age}さい（{threshold}さい いじょう）で「{concern}」",
        _L.ZH: "{age}岁（{threshold}岁以上），{concern}",
        _L.VI: "{age} tuổi (từ {threshold} tuổi trở lên), {concern}",
    },
    ReasonCode.DISABILITY_CERTIFICATE: {
        _L.JA: "障害者手帳がある",
        _L.EN: "holds a disability certificate",
        _L.JA_EASY: "しょうがいしゃ てちょうが ある",
        _L.ZH: "持有残障者手册",
        _L.VI: "có sổ người khuyết tật",
    },
    ReasonCode.SPECIAL_LOAN_BORROWER: {
        _L.JA: "特例貸付の借受人",
        _L.EN: "borrowed a special loan",
        _L.JA_EASY: "とくれい かしつけを かりた ひと",
        _L.ZH: "特例贷款的借款人",
        _L.VI: "người đã vay khoản vay đặc biệt",
    },
    ReasonCode.COMPOUND_PROGRAMMES: {
        _L.JA: "複合課題（{count}窓口）",
        _L.EN: "several needs: {count} programmes",
        _L.JA_EASY: "こまりごとが いくつも ある（{count}つの まどぐち）",
        _L.ZH: "复合问题（{count}个窗口）",
        _L.VI: "nhiều vấn đề ({count} chương trình)",
    },
    ReasonCode.COMPOUND_CONCERNS: {
        _L.JA: "複合課題「{concerns}」",
        _L.EN: "several needs: {concerns}",
        _L.JA_EASY: "こまりごとが いくつも ある「{concerns}」",
        _L.ZH: "复合问题：{concerns}",
        _L.VI: "nhiều vấn đề: {concerns}",
    },
    ReasonCode.LEAD_COORDINATOR: {
        _L.JA: "主担当: 複合課題の調整役",
        _L.EN: "leads: coordinator of a case with several needs",
        _L.JA_EASY: "おもな たんとう: いくつもの こまりごとを まとめる ところ",
        _L.ZH: "主负责：复合问题的协调者",
        _L.VI: "phụ trách chính: điều phối các vấn đề",
    },
    ReasonCode.LEAD_MOST_PRESSING: {
        _L.JA: "主担当: 一番困っていること「{concern}」",
        _L.EN: "leads: most pressing concern, {concern}",
        _L.JA_EASY: "おもな たんとう: いちばん こまって いる こと「{concern}」",
        _L.ZH: "主负责：最困扰的问题（{concern}）",
        _L.VI: "phụ trách chính: vấn đề cấp bách nhất, {concern}",
    },
    ReasonCode.LEAD_FIRST_CONCERN: {
        _L.JA: "主担当: 最初の相談内容「{concern}」",
        _L.EN: "leads: first concern reaching a programme, {concern}",
        _L.JA_EASY: "おもな たんとう: さいしょの そうだん「{concern}」",
        _L.ZH: "主负责：第一个咨询内容（{concern}）",
        _L.VI: "phụ trách chính: vấn đề đầu tiên, {concern}",
    },
    ReasonCode.LEAD_FIRST_PROGRAMME: {
        _L.JA: "主担当: 最初に該当した窓口",
        _L.EN: "leads: first programme reached",
        _L.JA_EASY: "おもな たんとう: さいしょに きまった まどぐち",
        _L.ZH: "主负责：最先对应的窗口",
        _L.VI: "phụ trách chính: chương trình đầu tiên phù hợp",
    },
    ReasonCode.LEAD_DEFAULT: {
        _L.JA: "主担当: 既定の窓口",
        _L.EN: "leads: the default programme",
        _L.JA_EASY: "おもな たんとう: きまった まどぐち",
        _L.ZH: "主负责：默认窗口",
        _L.VI: "phụ trách chính: chương trình mặc định",
    },
    ReasonCode.NO_PROGRAMME_REACHED: {
        _L.JA: "社協の窓口に該当なし",
        _L.EN: "no council programme reached",
        _L.JA_EASY: "しゃきょうの まどぐちが ない",
        _L.ZH: "没有对应的社协窗口",
        _L.VI: "không có chương trình nào của hội đồng phù hợp",
    },
    ReasonCode.REQUESTED_AFTER_DECLINE: {
        _L.JA: "お断りの後、提案の窓口として職員が紹介",
        _L.EN: "referred by staff as suggested after a decline",
        _L.JA_EASY: "ことわられたあと、すすめられた まどぐちに しょくいんが つないだ",
        _L.ZH: "被拒绝后，工作人员按建议转介",
        _L.VI: "nhân viên chuyển theo đề xuất sau khi bị từ chối",
    },
    ReasonCode.REQUESTED_BY_STAFF: {
        _L.JA: "職員が紹介を追加",
        _L.EN: "added by staff",
        _L.JA_EASY: "しょくいんが まどぐちを ふやした",
        _L.ZH: "工作人员追加转介",
        _L.VI: "nhân viên thêm chuyển tiếp",
    },
    ReasonCode.FLAG: {
        _L.JA: "緊急: {flag}",
        _L.EN: "urgent: {flag}",
        _L.JA_EASY: "いそぎ: {flag}",
        _L.ZH: "紧急：{flag}",
        _L.VI: "khẩn cấp: {flag}",
    },
    ReasonCode.TEXT: {lang: "{text}" for lang in Language},
}

_LIST_SEPARATOR = {_L.JA: "」「", _L.JA_EASY: "」「", _L.ZH: "、", _L.EN: ", ", _L.VI: ", "}


def render_reason(reason: Reason | Mapping[str, Any] | str, language: str = "ja") -> str:
    """A reason in words, in ``language`` (unknown languages fall back to Japanese).

    A reason that cannot be read (an unknown code, a missing parameter) is shown as its code
    rather than failing the page it is on.
    """
    try:
        lang = Language(language)
    except ValueError:
        lang = Language.JA
    try:
        parsed = (
            reason
            if isinstance(reason, Reason)
            else Reason.model_validate(upgrade_reasons([reason])[0])
        )
    except ValueError:
        return str(reason.get("code", reason) if isinstance(reason, Mapping) else reason)
    params: dict[str, Any] = dict(parsed.params)
    if "concern" in params:
        params["concern"] = concern_label(str(params["concern"]), lang)
    if isinstance(params.get("concerns"), list):
        params["concerns"] = _LIST_SEPARATOR[lang].join(
            concern_label(str(c), lang) for c in params["concerns"]
        )
    if "flag" in params:
        params["flag"] = FLAG_LABELS[lang].get(str(params["flag"]), str(params["flag"]))
    try:
        return TEMPLATES[parsed.code][lang].format(**params)
    except (KeyError, IndexError):
        return parsed.code.value


def concern_label(code: str, language: Language | str = Language.JA) -> str:
    """A concern code as the reader's words; an unknown code as it came."""
    try:
        return CONCERN_LABELS[Language(language)][Concern(code)]
    except ValueError:
        return code
