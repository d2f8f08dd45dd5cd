"""Realistic case bodies for cross-service tests, and what routing must decide for each."""

from __future__ import annotations

import random
import uuid
from datetime import date
from typing import Any

from tsunagu.routing.domain import CaseFacts, decide, load_rules

RULES = load_rules()

#: Concern sets drawn for the stream: about 1 in 3 compound, 1 in 4 food-eligible.
SIMPLE = [
    ["isolation"],
    ["elderly_care"],
    ["special_loan_repayment"],
    ["disability"],
    ["guardianship"],
    ["childcare"],
    ["loan_request"],
    ["dementia_money"],
    ["employment", "isolation"],
]
ECONOMIC = [["income_shortfall", "isolation"], ["debt_arrears"], ["food_insecurity"]]
COMPOUND = [
    ["family_8050", "hikikomori"],
    ["elderly_care", "disability", "loan_request"],
    ["hikikomori", "isolation"],
    ["dementia_money", "elderly_care", "isolation", "guardianship"],
]
KANA = [
    "かわぐち はなこ",
    "さいとう たろう",
    "グエン ヴァン アン",
    "りゅう めい",
    "すずき いちろう",
]


def case_body(rng: random.Random, event_id: str, *, index: int) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.25:
        concerns = list(rng.choice(ECONOMIC))
    elif roll < 0.58:
        concerns = list(rng.choice(COMPOUND))
    else:
        concerns = list(rng.choice(SIMPLE))
    urgent = rng.random() < 0.05
    channel = rng.choice(["email", "email", "phone", "sms", "letter", "none"])
    basis = rng.choice(["consent", "consent", "consent", "support_meeting", "none"])
    share = basis == "consent"
    if basis == "support_meeting":
        share = False
    year = rng.randint(1935, 2000)
    return {
        "event_id": event_id,
        "resident": {
            "name": f"テスト 利用者{index}",
            "name_kana": rng.choice(KANA),
            "birth_date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "sex": rng.choice(["female", "male", "other", "not_stated"]),
            "phone": f"090{rng.randint(10_000_000, 99_999_999)}",
            "email": f"resident{index}@example.test",
            "address": "埼玉県川口市1-2-3",
            "language": rng.choice(["ja", "ja_easy", "en", "zh", "vi"]),
            "lives_alone": rng.random() < 0.4,
            "disability_certificate": rng.random() < 0.1,
            "special_loan_borrower": rng.random() < 0.15,
        },
        "concerns": concerns,
        "most_pressing": concerns[0],
        "urgent": {"no_food_today": urgent, "eviction_within_7_days": False},
        "consent": {
            "share_across_programmes": share,
            "basis": basis,
            "contact_channels": [channel],
            "contact_time": "any",
        },
        "notes": "",
    }


def age_on(birth: str, on: date) -> int:
    b = date.fromisoformat(birth)
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def expected(body: dict[str, Any], event_date: date) -> dict[str, Any]:
    """What routing and food distribution must make of this case."""
    resident = body["resident"]
    facts = CaseFacts.from_raw(
        concerns=body["concerns"],
        most_pressing=body["most_pressing"],
        age=age_on(resident["birth_date"], event_date),
        disability_certificate=resident["disability_certificate"],
        special_loan_borrower=resident["special_loan_borrower"],
        lives_alone=resident["lives_alone"],
        no_food_today=body["urgent"]["no_food_today"],
        eviction_within_7_days=body["urgent"]["eviction_within_7_days"],
        sharing_basis=body["consent"]["basis"],
    )
    decision = decide(facts, RULES)
    return {
        "programmes": {p.value for p in decision.programmes},
        "shared": {p.value for p in decision.shared},
        "food": decision.food_parcel_eligible,
        "contactable": body["consent"]["contact_channels"] != ["none"],
    }


def new_key() -> str:
    return str(uuid.uuid4())
