"""The ``POST /api/v1/cases`` body: every invalid field is named, in Japanese."""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from tsunagu.intake.domain.case_input import (
    EXAMPLE_BODY,
    FORM_ERROR_KEY,
    CaseInput,
    japanese_error_messages,
)
from tsunagu.shared.contracts.codes import (
    Concern,
    ContactChannel,
    ContactTime,
    Language,
    Sex,
    SharingBasis,
)

TODAY = date(2025, 6, 1)
DELETE = object()
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def body(**changes: Any) -> dict[str, Any]:
    """The example body with changes; keys are dotted paths, ``DELETE`` removes the key."""
    data = copy.deepcopy(EXAMPLE_BODY)
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = data
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return data


def validate(data: Any) -> CaseInput:
    return CaseInput.model_validate(data, context={"today": TODAY})


def messages_for(data: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        validate(data)
    return japanese_error_messages(raised.value)


# --- valid bodies ---------------------------------------------------------------------------


def test_the_example_body_is_valid() -> None:
    case = validate(EXAMPLE_BODY)
    assert case.resident.birth_date == date(1948, 5, 1)
    assert case.resident.phone == "09012345678"
    assert case.resident.sex is Sex.FEMALE
    assert case.concerns == [Concern.INCOME_SHORTFALL, Concern.ISOLATION]
    assert case.most_pressing is Concern.INCOME_SHORTFALL
    assert case.consent.basis is SharingBasis.CONSENT
    assert case.consent.contact_channels == [ContactChannel.PHONE]
    assert case.consent.contact_time is ContactTime.AFTERNOON


def test_a_minimal_body_gets_defaults() -> None:
    case = validate(
        {
            "event_id": "evt-1",
            "resident": {"name": "川口 花子", "name_kana": "かわぐち はなこ"},
            "concerns": ["isolation"],
            "consent": {
                "share_across_programmes": False,
                "basis": "none",
                "contact_channels": ["none"],
            },
        }
    )
    resident = case.resident
    assert (resident.birth_date, resident.phone, resident.email, resident.address) == (
        None,
        None,
        None,
        None,
    )
    assert resident.sex is Sex.NOT_STATED
    assert resident.language is Language.JA
    assert resident.lives_alone is None
    assert not resident.disability_certificate
    assert not resident.special_loan_borrower
    assert resident.household == []
    assert resident.proxy is None
    assert case.household_id is None
    assert case.most_pressing is None
    assert not case.urgent.no_food_today
    assert not case.urgent.eviction_within_7_days
    assert case.consent.contact_time is ContactTime.ANY
    assert case.notes is None


@pytest.mark.parametrize(
    ("changes", "read"),
    [
        ({"resident__birth_date": "昭和23年5月1日"}, lambda c: c.resident.birth_date),
        ({"resident__birth_date": "Ｓ２３．５．１"}, lambda c: c.resident.birth_date),
        ({"resident__birth_date": date(1948, 5, 1)}, lambda c: c.resident.birth_date),
    ],
)
def test_birth_date_in_either_calendar(changes: dict[str, Any], read: Any) -> None:
    assert read(validate(body(**changes))) == date(1948, 5, 1)


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"resident__phone": "０９０－１２３４－５６７８"}, "phone", "09012345678"),
        ({"resident__phone": "+81 90 1234 5678"}, "phone", "09012345678"),
        ({"resident__phone": "(048) 123-4567"}, "phone", "0481234567"),
        ({"resident__email": " hanako＠example.jp "}, "email", "hanako@example.jp"),
        ({"resident__name_kana": "ｶﾜｸﾞﾁ ﾊﾅｺ"}, "name_kana", "カワグチ ハナコ"),
        ({"resident__name_kana": "かわぐち\u3000\u3000はなこ"}, "name_kana", "かわぐち はなこ"),
        ({"resident__name": "  川口 花子 "}, "name", "川口 花子"),
        ({"resident__address": ""}, "address", None),
        ({"resident__birth_date": ""}, "birth_date", None),
        ({"resident__birth_date": None}, "birth_date", None),
        ({"resident__birth_date": "1904-06-02"}, "birth_date", date(1904, 6, 2)),  # 120
        ({"resident__birth_date": "2025-06-01"}, "birth_date", TODAY),
    ],
)
def test_resident_fields_are_normalised(changes: dict[str, Any], field: str, expected: Any) -> None:
    assert getattr(validate(body(**changes)).resident, field) == expected


@pytest.mark.parametrize(
    ("share", "basis"),
    [(True, "consent"), (True, "support_meeting"), (False, "none"), (False, "support_meeting")],
)
def test_allowed_sharing_bases(share: bool, basis: str) -> None:
    case = validate(body(consent__share_across_programmes=share, consent__basis=basis))
    assert case.consent.basis == basis


@pytest.mark.parametrize(
    "changes",
    [
        {"consent__contact_channels": ["none"], "resident__phone": None},
        {"consent__contact_channels": ["email"], "resident__email": "a@example.jp"},
        {"consent__contact_channels": ["sms", "phone", "letter"]},
        {"most_pressing": None},
        {"most_pressing": DELETE, "concerns": ["dv_abuse"], "consent__safe_contact": "none"},
        {"concerns": [c.value for c in Concern], "consent__safe_contact": "phone"},
        {"household_id": "household_42"},
        {"urgent": {"no_food_today": True}},
        {"resident__household": [{"relationship": "長男", "age": 50}] * 20},
        {"resident__household": [{"relationship": "妻"}]},
        {"resident__proxy": {"name": "川口 一郎", "relationship": "長男"}},
        {"resident__name_kana": "グエン・ヴァン・アン"},
        {"resident__name_kana": "ルーシー"},
        {"notes": "あ" * 2000},
        {"resident__name": "あ" * 100},
        {"resident__address": "あ" * 200},
    ],
)
def test_other_valid_bodies(changes: dict[str, Any]) -> None:
    validate(body(**changes))


# --- one wrong field, one error under its name, in Japanese ---------------------------------

LONG = "あ" * 201


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        # unknown fields anywhere
        ({"case_id": "x"}, "case_id", "「case_id」という項目は受け付けていません"),
        ({"resident__nickname": "x"}, "resident.nickname", "受け付けていません"),
        ({"consent__signed": True}, "consent.signed", "受け付けていません"),
        ({"urgent__fire": True}, "urgent.fire", "受け付けていません"),
        # event and household
        ({"event_id": DELETE}, "event_id", "相談会を選んでください"),
        ({"event_id": ""}, "event_id", "相談会を選んでください"),
        ({"event_id": "evt 1; drop"}, "event_id", "相談会の形式が正しくありません"),
        ({"event_id": 42}, "event_id", "相談会は文字で入力してください"),
        ({"household_id": "a/b"}, "household_id", "世帯の形式が正しくありません"),
        # resident
        ({"resident": DELETE}, "resident", "相談者を入力してください"),
        ({"resident": "川口"}, "resident", "相談者が正しくありません"),
        ({"resident__name": DELETE}, "resident.name", "氏名を入力してください"),
        ({"resident__name": "  "}, "resident.name", "氏名を入力してください"),
        ({"resident__name": "あ" * 101}, "resident.name", "氏名は100文字以内で入力してください"),
        ({"resident__name_kana": DELETE}, "resident.name_kana", "ふりがなを入力してください"),
        ({"resident__name_kana": ""}, "resident.name_kana", "ふりがなを入力してください"),
        (
            {"resident__name_kana": "川口 花子"},
            "resident.name_kana",
            "ふりがなはひらがなかカタカナで入力してください",
        ),
        ({"resident__name_kana": "kawaguchi"}, "resident.name_kana", "ひらがなかカタカナ"),
        ({"resident__name_kana": "あ" * 101}, "resident.name_kana", "100文字以内"),
        (
            {"resident__birth_date": "1948-13-01"},
            "resident.birth_date",
            "生年月日が正しくありません。存在しない日付です",
        ),
        (
            {"resident__birth_date": "5月1日"},
            "resident.birth_date",
            "生年月日が正しくありません（例: 1948-05-01 または 昭和23年5月1日）",
        ),
        (
            {"resident__birth_date": "昭和64年1月8日"},
            "resident.birth_date",
            "昭和は昭和64年1月7日（1989年1月7日）までです",
        ),
        ({"resident__birth_date": "平成元年1月7日"}, "resident.birth_date", "平成は平成元年1月8日"),
        ({"resident__birth_date": 19480501}, "resident.birth_date", "生年月日が正しくありません"),
        (
            {"resident__birth_date": "2025-06-02"},
            "resident.birth_date",
            "生年月日が未来の日付になっています",
        ),
        ({"resident__birth_date": "1904-06-01"}, "resident.birth_date", "120歳を超えています"),
        ({"resident__sex": "unknown"}, "resident.sex", "性別の選択肢が正しくありません"),
        ({"resident__phone": "12345"}, "resident.phone", "電話番号は10桁か11桁の数字で入力"),
        ({"resident__phone": "090-1234-56789"}, "resident.phone", "10桁か11桁"),
        ({"resident__phone": "090-1234-567a"}, "resident.phone", "10桁か11桁"),
        ({"resident__phone": "090" + "-" * 40}, "resident.phone", "30文字以内"),
        ({"resident__email": "hanako"}, "resident.email", "メールアドレスの形式が正しくありません"),
        ({"resident__email": "hanako@example"}, "resident.email", "メールアドレスの形式"),
        ({"resident__email": "a b@example.jp"}, "resident.email", "メールアドレスの形式"),
        ({"resident__address": LONG}, "resident.address", "住所は200文字以内で入力してください"),
        (
            {"resident__language": "fr"},
            "resident.language",
            "連絡に使う言語の選択肢が正しくありません",
        ),
        (
            {"resident__lives_alone": "maybe"},
            "resident.lives_alone",
            "「はい」か「いいえ」で答えて",
        ),
        ({"resident__disability_certificate": "x"}, "resident.disability_certificate", "はい"),
        ({"resident__special_loan_borrower": "x"}, "resident.special_loan_borrower", "はい"),
        (
            {"resident__household": [{"relationship": "子"}] * 21},
            "resident.household",
            "世帯員は20件までです",
        ),
        (
            {"resident__household": [{"relationship": "子", "age": -1}]},
            "resident.household.0.age",
            "世帯員の年齢は0以上で入力してください",
        ),
        (
            {"resident__household": [{"relationship": "子", "age": 121}]},
            "resident.household.0.age",
            "世帯員の年齢は120以下で入力してください",
        ),
        (
            {"resident__household": [{"relationship": "子", "age": "十"}]},
            "resident.household.0.age",
            "世帯員の年齢は数字で入力してください",
        ),
        (
            {"resident__household": [{"age": 10}]},
            "resident.household.0.relationship",
            "世帯員の続柄を入力してください",
        ),
        (
            {"resident__proxy": {"name": "川口 一郎", "relationship": "長男", "phone": "1"}},
            "resident.proxy.phone",
            "受け付けていません",
        ),
        (
            {"resident__proxy": {"relationship": "長男"}},
            "resident.proxy.name",
            "代理人の氏名を入力してください",
        ),
        # concerns
        ({"concerns": []}, "concerns", "相談内容を1つ以上選んでください"),
        (
            {"concerns": DELETE, "most_pressing": None},
            "concerns",
            "相談内容を1つ以上選んでください",
        ),
        (
            {"concerns": "isolation", "most_pressing": None},
            "concerns",
            "相談内容が正しくありません",
        ),
        (
            {"concerns": ["isolation", "pets"], "most_pressing": None},
            "concerns.1",
            "相談内容の選択肢が正しくありません",
        ),
        (
            {"concerns": ["isolation", "isolation"], "most_pressing": None},
            "concerns",
            "同じ相談内容が2回選ばれています",
        ),
        (
            {"most_pressing": "housing"},
            "most_pressing",
            "一番困っていることは、選んだ相談内容の中から選んでください",
        ),
        (
            {"most_pressing": "money"},
            "most_pressing",
            "一番困っていることの選択肢が正しくありません",
        ),
        # urgent
        ({"urgent__no_food_today": "x"}, "urgent.no_food_today", "今日食べるものがない"),
        ({"urgent__eviction_within_7_days": []}, "urgent.eviction_within_7_days", "はい"),
        # consent
        ({"consent": DELETE}, "consent", "同意を入力してください"),
        (
            {"consent__share_across_programmes": DELETE},
            "consent.share_across_programmes",
            "関係窓口での情報共有を選んでください",
        ),
        ({"consent__basis": DELETE}, "consent.basis", "共有の根拠を選んでください"),
        ({"consent__basis": "verbal"}, "consent.basis", "共有の根拠の選択肢が正しくありません"),
        (
            {"consent__basis": "none"},
            "consent.basis",
            "情報を共有する場合は、共有の根拠（本人同意または支援会議）を選んでください",
        ),
        (
            {"consent__share_across_programmes": False},
            "consent.basis",
            "情報を共有しない場合、共有の根拠は「なし」か「支援会議」を選んでください",
        ),
        (
            {"consent__contact_channels": []},
            "consent.contact_channels",
            "連絡方法を1つ以上選んでください",
        ),
        (
            {"consent__contact_channels": ["phone", "phone"]},
            "consent.contact_channels",
            "同じ連絡方法が2回選ばれています",
        ),
        (
            {"consent__contact_channels": ["none", "phone"]},
            "consent.contact_channels",
            "「連絡しない」は他の連絡方法と一緒に選べません",
        ),
        (
            {"consent__contact_channels": ["fax"]},
            "consent.contact_channels.0",
            "連絡方法の選択肢が正しくありません",
        ),
        ({"consent__contact_time": "night"}, "consent.contact_time", "連絡の時間帯の選択肢"),
        # a channel needs its contact detail
        (
            {"consent__contact_channels": ["email"]},
            "resident.email",
            "メールで連絡する場合はメールアドレスを入力してください",
        ),
        (
            {"consent__contact_channels": ["sms"], "resident__phone": ""},
            "resident.phone",
            "電話・SMSで連絡する場合は電話番号を入力してください",
        ),
        (
            {"consent__contact_channels": ["phone", "sms"], "resident__phone": None},
            "resident.phone",
            "電話番号を入力してください",
        ),
        (
            {"consent__contact_channels": ["letter"], "resident__address": DELETE},
            "resident.address",
            "手紙で連絡する場合は住所を入力してください",
        ),
        # notes
        ({"notes": "あ" * 2001}, "notes", "メモは2000文字以内で入力してください"),
    ],
)
def test_one_wrong_field(changes: dict[str, Any], path: str, message: str) -> None:
    messages = messages_for(body(**changes))
    assert list(messages) == [path]
    assert message in messages[path]


def test_every_wrong_field_is_reported_at_once() -> None:
    data = body(
        event_id="",
        extra="x",
        resident__name="",
        resident__name_kana="Hanako",
        resident__birth_date="昭和64年1月8日",
        resident__sex="f",
        resident__phone="123",
        resident__email="nope",
        resident__address=LONG,
        resident__language="fr",
        resident__lives_alone="maybe",
        concerns=["isolation", "isolation"],
        most_pressing="pets",
        urgent__no_food_today="x",
        consent__basis="none",
        consent__contact_channels=["none", "sms"],
        consent__contact_time="night",
        notes="あ" * 2001,
    )
    messages = messages_for(data)
    assert set(messages) == {
        "event_id",
        "extra",
        "resident.name",
        "resident.name_kana",
        "resident.birth_date",
        "resident.sex",
        "resident.phone",
        "resident.email",
        "resident.address",
        "resident.language",
        "resident.lives_alone",
        "concerns",
        "most_pressing",
        "urgent.no_food_today",
        "consent.basis",
        "consent.contact_channels",
        "consent.contact_time",
        "notes",
    }
    for path, message in messages.items():
        assert JAPANESE.search(message), (path, message)


def test_a_body_that_is_not_an_object() -> None:
    assert list(messages_for(["not", "an", "object"])) == [FORM_ERROR_KEY]


def test_messages_never_repeat_what_was_typed() -> None:
    secret = "090-9999-888x"
    messages = messages_for(body(resident__phone=secret, resident__name_kana="秘密の名前"))
    assert all(secret not in m and "秘密" not in m for m in messages.values())


def test_the_schema_forbids_unknown_fields_and_carries_the_example() -> None:
    schema = CaseInput.model_json_schema()
    assert schema["additionalProperties"] is False
    assert schema["examples"] == [EXAMPLE_BODY]


def test_the_case_is_immutable() -> None:
    case = validate(EXAMPLE_BODY)
    with pytest.raises(ValidationError):
        case.notes = "changed"  # type: ignore[misc]


# --- residents at risk ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        (
            {"concerns": ["dv_abuse"], "most_pressing": None},
            "consent.safe_contact",
            "安全な連絡方法",
        ),
        ({"consent__sensitive": True}, "consent.safe_contact", "安全な連絡方法"),
        (
            {"consent__sensitive": True, "consent__safe_contact": "letter"},
            "consent.safe_contact",
            "手紙",
        ),
        ({"consent__safe_contact": "sms"}, "consent.safe_contact", "だけ指定します"),
        (
            {"consent__sensitive": True, "consent__safe_contact": "email"},
            "resident.email",
            "メールアドレス",
        ),
    ],
)
def test_a_case_at_risk_needs_a_safe_contact_that_is_not_a_letter(
    changes: dict[str, Any], path: str, message: str
) -> None:
    assert message in messages_for(body(**changes))[path]


def test_no_safe_contact_is_an_answer_too() -> None:
    parsed = validate(body(concerns=["dv_abuse"], most_pressing=None, consent__safe_contact="none"))
    assert parsed.at_risk
    assert parsed.consent.safe_contact == "none"


# --- phone numbers --------------------------------------------------------------------------


def test_sms_is_refused_for_a_landline() -> None:
    messages = messages_for(body(consent__contact_channels=["sms"], resident__phone="03-1234-5678"))
    assert "携帯電話の番号" in messages["resident.phone"]
    # A call to the same landline is fine.
    parsed = validate(body(consent__contact_channels=["phone"], resident__phone="03-1234-5678"))
    assert parsed.resident.phone == "0312345678"


def test_a_number_that_does_not_exist_in_japan_is_refused() -> None:
    assert "番号を確かめて" in messages_for(body(resident__phone="000-1234-5678"))["resident.phone"]
