"""Service helpers without I/O: furigana keys, config, refusal bodies, lock keys, API bodies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tsunagu.food_distribution.config import FoodConfig
from tsunagu.food_distribution.domain.handout import HandoutPolicy, Refusal, RefusalCode
from tsunagu.food_distribution.entrypoints.schemas import AdjustmentIn, HandoutIn, ReceiptIn
from tsunagu.food_distribution.service_layer.errors import Conflict, FoodError
from tsunagu.food_distribution.service_layer.handouts import household_lock_key
from tsunagu.food_distribution.service_layer.kana import case_number_key, kana_key
from tsunagu.shared.contracts.codes import ParcelType


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("ヤマダ ハナコ", "やまだはなこ"),
        ("やまだ　はなこ", "やまだはなこ"),  # ideographic space
        ("ﾔﾏﾀﾞ ﾊﾅｺ", "やまだはなこ"),  # half-width with a separate dakuten
        ("ジャン＝ピエール・ルー", "じやんぴえーるるー"),
        ("ＳＭＩＴＨ", "smith"),
    ],
)
def test_kana_key_folds_what_staff_type(typed: str, key: str) -> None:
    assert kana_key(typed) == key


def test_case_number_key_folds_width_and_case() -> None:
    assert case_number_key(" ｋ－２０２６－００４２ ") == "K-2026-0042"


def test_config_builds_the_domain_policy_and_thresholds() -> None:
    config = FoodConfig(
        per_event=2, min_days_between=30, low_stock_threshold=5, low_stock_thresholds={"infant": 2}
    )
    assert config.policy() == HandoutPolicy(per_event=2, min_days_between=30)
    assert config.threshold(ParcelType.INFANT) == 2
    assert config.threshold(ParcelType.STANDARD) == 5


def test_config_reads_tsunagu_food_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSUNAGU_FOOD_PER_EVENT", "3")
    monkeypatch.setenv("TSUNAGU_FOOD_LOW_STOCK_THRESHOLDS", '{"no_pork": 1}')
    config = FoodConfig()
    assert config.per_event == 3
    assert config.threshold(ParcelType.NO_PORK) == 1
    with pytest.raises(ValidationError):
        FoodConfig(per_event=0)


def test_a_refusal_survives_being_stored_and_replayed() -> None:
    refusal = Refusal(RefusalCode.OUT_OF_STOCK, "在庫切れ", "out of stock", {"remaining": {"a": 0}})
    conflict = Conflict.from_refusal(refusal)
    assert conflict.body() == {
        "code": "out_of_stock",
        "message": "在庫切れ",
        "message_en": "out of stock",
        "remaining": {"a": 0},
    }
    assert FoodError.from_body(conflict.body()).body() == conflict.body()
    assert conflict.status == 409


def test_household_lock_keys_are_stable_signed_64_bit() -> None:
    key = household_lock_key("hh-1")
    assert key == household_lock_key("hh-1") != household_lock_key("hh-2")
    assert -(2**63) <= key < 2**63


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (HandoutIn, {"case_id": "c", "parcel_type": "vegan"}, "parcel_type"),
        (HandoutIn, {"case_id": " ", "parcel_type": "standard"}, "case_id"),
        (ReceiptIn, {"event_id": "e", "venue_id": "v", "parcel_type": "infant", "quantity": True,
                     "source": "d"}, "quantity"),
        (AdjustmentIn, {"event_id": "e", "parcel_type": "infant", "delta": -1, "reason": ""},
         "reason"),
    ],
)  # fmt: skip
def test_request_bodies_name_the_bad_field(model: type, body: dict, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        model.model_validate(body)
    assert [e["loc"][-1] for e in error.value.errors()] == [field]
