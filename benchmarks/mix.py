"""The case mix the load generator submits: about 1 in 3 compound, 1 in 4 food-eligible,
1 in 20 urgent (issue 9), as bodies of ``POST /api/v1/cases`` (issue 3).

Each case is classified with routing's own rules (``tsunagu.routing.domain.decide`` on the
shipped default rule set) when that package imports, so the mix reported is the mix routing
sees; the programmes it reaches also drive the floor's fan-out, so floor and system publish the
same number of referrals per case.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

JST = timezone(timedelta(hours=9))

COMPOUND_SHARE = 1 / 3
FOOD_SHARE = 1 / 4
URGENT_SHARE = 1 / 20

FOOD_CONCERNS = ("income_shortfall", "debt_arrears", "food_insecurity")
COMPOUND_TRIGGERS = ("hikikomori", "family_8050")
#: Concerns that reach one council programme each (default rule set), none of them economic.
SIMPLE_CONCERNS = (
    "isolation",
    "housing",
    "employment",
    "loan_request",
    "special_loan_repayment",
    "elderly_care",
    "guardianship",
    "dementia_money",
    "disability",
)
#: Needs that only go to agencies outside the council (recorded, no council programme).
EXTERNAL_CONCERNS = ("health", "childcare")

# Fallback when the routing package does not import: rule 1 of the default rule set.
_CONCERN_PROGRAMMES: dict[str, tuple[str, ...]] = {
    "income_shortfall": ("life_independence",),
    "debt_arrears": ("life_independence",),
    "special_loan_repayment": ("welfare_fund",),
    "loan_request": ("welfare_fund",),
    "housing": ("life_independence",),
    "employment": ("life_independence",),
    "food_insecurity": ("life_independence",),
    "isolation": ("csw_participation",),
    "hikikomori": ("csw_outreach",),
    "family_8050": ("csw_outreach",),
    "elderly_care": ("elderly_support",),
    "dementia_money": ("adult_guardianship",),
    "guardianship": ("adult_guardianship",),
    "disability": ("disability_support",),
    "health": (),
    "childcare": (),
    "dv_abuse": (),
}

_FAMILY_KANA = (
    "かわぐち",
    "すずき",
    "たなか",
    "わたなべ",
    "いとう",
    "やまもと",
    "なかむら",
    "こばやし",
)
_GIVEN_KANA = ("はなこ", "たろう", "ゆみ", "けんじ", "さちこ", "ひろし", "あきこ", "まさお")
_FAMILY = ("川口", "鈴木", "田中", "渡辺", "伊藤", "山本", "中村", "小林")
_GIVEN = ("花子", "太郎", "由美", "健二", "幸子", "博", "明子", "正夫")


@dataclass(frozen=True)
class CaseSpec:
    """One case to submit, and what routing is expected to make of it."""

    index: int
    body: dict[str, Any]
    compound: bool
    food: bool
    urgent: bool
    #: Programmes the case is shared with at once (one ``referral_created`` each).
    programmes: tuple[str, ...]

    def with_event(self, event_id: str) -> dict[str, Any]:
        return {**self.body, "event_id": event_id}


class _Classifier:
    """Routing's decision on the default rules, or a faithful fallback of rules 1, 2 and 5."""

    def __init__(self) -> None:
        try:
            from tsunagu.routing.domain import CaseFacts, decide, load_rules

            self._rules = load_rules()
            self._facts = CaseFacts
            self._decide = decide
            self.source = "tsunagu.routing.domain (default rules)"
        except Exception:
            self._decide = None
            self.source = "benchmarks.mix fallback (default rules 1, 2, 5)"

    def __call__(self, body: dict[str, Any], age: int) -> tuple[bool, bool, bool, tuple[str, ...]]:
        concerns = body["concerns"]
        urgent_flags = body["urgent"]
        if self._decide is not None:
            facts = self._facts.from_raw(
                concerns=concerns,
                most_pressing=body["most_pressing"],
                age=age,
                lives_alone=bool(body["resident"]["lives_alone"]),
                disability_certificate=body["resident"]["disability_certificate"],
                special_loan_borrower=body["resident"]["special_loan_borrower"],
                no_food_today=urgent_flags["no_food_today"],
                eviction_within_7_days=urgent_flags["eviction_within_7_days"],
                sharing_basis=body["consent"]["basis"],
            )
            d = self._decide(facts, self._rules)
            shared = tuple(p.value for p in d.shared)
            return d.compound, d.food_parcel_eligible, d.urgent, shared
        reached: list[str] = []
        for c in concerns:
            extra = (
                ("elderly_support",)
                if age >= 65 and c in ("elderly_care", "dementia_money", "health")
                else ()
            )
            for p in (*_CONCERN_PROGRAMMES[c], *extra):
                if p not in reached:
                    reached.append(p)
        compound = len(reached) >= 3 or any(c in COMPOUND_TRIGGERS for c in concerns)
        if compound:
            reached = ["csw_outreach", *(p for p in reached if p != "csw_outreach")]
        elif not reached:
            reached = ["life_independence"]
        food = any(c in FOOD_CONCERNS for c in concerns)
        urgent = "dv_abuse" in concerns or any(urgent_flags.values())
        return compound, food, urgent, tuple(reached)


_classify: _Classifier | None = None


def classifier() -> _Classifier:
    global _classify
    if _classify is None:
        _classify = _Classifier()
    return _classify


def generate(
    n: int, *, seed: int = 9, start: int = 0, event_id: str = "bench-event"
) -> list[CaseSpec]:
    """``n`` cases, reproducible for a seed; indexes ``start`` .. ``start + n - 1``."""
    rng = random.Random(f"{seed}:{start}:{n}")
    classify = classifier()
    today = datetime.now(JST).date()
    cases: list[CaseSpec] = []
    for index in range(start, start + n):
        want_compound = rng.random() < COMPOUND_SHARE
        want_food = rng.random() < FOOD_SHARE
        want_urgent = rng.random() < URGENT_SHARE
        for _ in range(50):  # redraw until routing agrees with the class we want
            body, age = _draw(rng, index, today, event_id, want_compound, want_food, want_urgent)
            compound, food, urgent, programmes = classify(body, age)
            if (compound, food, urgent) == (want_compound, want_food, want_urgent):
                break
        cases.append(CaseSpec(index, body, compound, food, urgent, programmes))
    return cases


def _draw(
    rng: random.Random,
    index: int,
    today: date,
    event_id: str,
    compound: bool,
    food: bool,
    urgent: bool,
) -> tuple[dict[str, Any], int]:
    concerns: list[str] = []
    if food:
        concerns.append(rng.choice(FOOD_CONCERNS))
    if compound:
        if rng.random() < 0.5:
            concerns.append(rng.choice(COMPOUND_TRIGGERS))
        # three or more programmes: add distinct single-programme concerns
        for c in rng.sample(SIMPLE_CONCERNS, k=len(SIMPLE_CONCERNS)):
            if len(concerns) >= 3:
                break
            concerns.append(c)
    else:
        pool = [c for c in SIMPLE_CONCERNS if c not in concerns]
        if not concerns or rng.random() < 0.5:
            concerns.append(rng.choice(pool))
        if rng.random() < 0.15:
            concerns.append(rng.choice(EXTERNAL_CONCERNS))
    no_food_today = eviction = False
    if urgent:
        pick = rng.random()
        if pick < 0.4:
            no_food_today = True
        elif pick < 0.8:
            eviction = True
        else:
            concerns.append("dv_abuse")
    age = rng.randint(20, 92)
    birth = date(today.year - age - 1, rng.randint(1, 12), rng.randint(1, 28))
    family, given = rng.randrange(len(_FAMILY)), rng.randrange(len(_GIVEN))
    email = rng.random() < 0.3
    body: dict[str, Any] = {
        "event_id": event_id,
        "resident": {
            "name": f"{_FAMILY[family]} {_GIVEN[given]}",
            "name_kana": f"{_FAMILY_KANA[family]} {_GIVEN_KANA[given]}",
            "birth_date": birth.isoformat(),
            "sex": rng.choice(("female", "male", "not_stated")),
            "phone": f"090-{1000 + index // 10000 % 9000:04d}-{index % 10000:04d}",
            "email": f"bench{index}@example.jp" if email else None,
            "address": "埼玉県川口市本町1-2-3",
            "language": "ja",
            "lives_alone": rng.random() < 0.4,
            "disability_certificate": False,
            "special_loan_borrower": False,
        },
        "concerns": concerns,
        "most_pressing": concerns[0],
        "urgent": {"no_food_today": no_food_today, "eviction_within_7_days": eviction},
        "consent": {
            "share_across_programmes": True,
            "basis": "consent",
            "contact_channels": ["email"] if email else ["phone"],
            "contact_time": "any",
        },
        "notes": None,
    }
    if "dv_abuse" in concerns:  # at risk: intake asks which contact is safe
        body["consent"]["safe_contact"] = "email" if email else "phone"
    return body, age


def shares(cases: Sequence[CaseSpec]) -> dict[str, Any]:
    """The mix actually drawn: shares of compound, food-eligible and urgent cases."""
    n = max(1, len(cases))
    referrals = sum(len(c.programmes) for c in cases)
    return {
        "cases": len(cases),
        "compound": round(sum(c.compound for c in cases) / n, 3),
        "food_eligible": round(sum(c.food for c in cases) / n, 3),
        "urgent": round(sum(c.urgent for c in cases) / n, 3),
        "referrals_per_case": round(referrals / n, 2),
        "classified_by": classifier().source,
    }
