"""Search (``GET /api/v1/cases?q=``) on real PostgreSQL: what finds a case, and who may find it."""

from __future__ import annotations

import uuid

import pytest
from intake_helpers import App, case_body, case_routed, eventually, publish, todays_event, token
from sqlalchemy import select

from tsunagu.intake.adapters.orm import tables
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import FOOD, ROUTING_CASE

pytestmark = pytest.mark.integration


def unique_kana() -> tuple[str, str]:
    """A family name in kana no other test uses, and the same one a kana off (ゆうみ → ゆみ)."""
    digits = uuid.uuid4().int
    family = "".join("あいうえおかきくけこさしすせそ"[(digits >> (4 * i)) % 15] for i in range(5))
    return f"{family} ゆうみ", f"{family}ゆみ"


async def take_in(app: App, headers: dict[str, str], **changes: object) -> dict:
    response = await app.client.post("/api/v1/cases", json=case_body(**changes), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def search(app: App, headers: dict[str, str], q: str) -> list[str]:
    response = await app.client.get("/api/v1/cases", params={"q": q}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["case_id"] for item in response.json()["items"]]


async def test_a_case_is_found_by_number_furigana_one_kana_off_phone_and_birth_date(
    intake_app: App,
) -> None:
    headers = await token(intake_app.client, "uketsuke")
    kana, typed_later = unique_kana()
    phone = f"080{10**7 + uuid.uuid4().int % (9 * 10**7)}"
    created = await take_in(intake_app, headers, resident__name_kana=kana, resident__phone=phone)
    case_id, number = created["case_id"], created["case_number"]

    assert case_id in await search(intake_app, headers, number)
    assert case_id in await search(intake_app, headers, number[-4:])  # the last four digits
    assert case_id in await search(intake_app, headers, number[-4:].lstrip("0") or "0")
    assert await search(intake_app, headers, typed_later) == [case_id]  # ゆみ for ゆうみ
    assert await search(intake_app, headers, f"{phone[:3]}-{phone[3:7]}-{phone[7:]}") == [case_id]
    assert case_id in await search(intake_app, headers, phone[-8:])
    assert case_id in await search(intake_app, headers, "昭和23年5月1日")  # 1948-05-01
    assert case_id in await search(intake_app, headers, "1948-05-01")

    a = tables.audit_log
    async with intake_app.runtime.sessions() as session:
        rows = (
            await session.execute(
                select(a.c.detail).where(a.c.actor == "uketsuke", a.c.action == "case.search")
            )
        ).all()
    assert rows, "every search is audited"
    assert all(phone not in str(r.detail) and kana not in str(r.detail) for r in rows)


async def test_a_programme_member_finds_only_cases_referred_to_them(intake_app: App) -> None:
    intake = await token(intake_app.client, "uketsuke")
    kana, _ = unique_kana()
    shared = await take_in(intake_app, intake, resident__name_kana=kana)
    other = await take_in(intake_app, intake, resident__name_kana=kana)
    routed = case_routed(shared["case_id"], shared["case_number"], todays_event())
    await publish(intake_app.settings.kafka_bootstrap, ROUTING_CASE.name, shared["case_id"], routed)

    member = await token(intake_app.client, "csw_participation")

    async def found() -> bool:
        return bool(await search(intake_app, member, kana))

    await eventually(found)
    assert await search(intake_app, member, kana) == [shared["case_id"]]
    assert other["case_id"] not in await search(intake_app, member, other["case_number"])
    assert await search(intake_app, member, other["case_number"]) == []
    welfare = await token(intake_app.client, "welfare_fund")  # not referred anywhere here
    assert await search(intake_app, welfare, kana) == []


async def test_the_food_desk_finds_only_todays_eligible_households(intake_app: App) -> None:
    intake = await token(intake_app.client, "uketsuke")
    kana, _ = unique_kana()
    eligible = await take_in(intake_app, intake, resident__name_kana=kana)
    not_yet = await take_in(intake_app, intake, resident__name_kana=kana)
    # Routing finds both eligible; food distribution, which owns who gets a parcel, has granted
    # one of them so far: the desk finds that one only.
    bootstrap = intake_app.settings.kafka_bootstrap
    for case in (eligible, not_yet):
        routed = case_routed(case["case_id"], case["case_number"], todays_event())
        await publish(bootstrap, ROUTING_CASE.name, case["case_id"], routed)
    full = await intake_app.client.get(f"/api/v1/cases/{eligible['case_id']}", headers=intake)
    granted = Envelope(
        event_type="eligibility_granted",
        producer="food_distribution",
        data={
            "case_id": eligible["case_id"],
            "household_id": full.json()["household_id"],
            "event_id": todays_event(),
            "basis": "economic_concern",
            "reason": "振り分けの判断で配布対象（ルール 2026.1）",
        },
    )
    await publish(bootstrap, FOOD.name, eligible["case_id"], granted)
    food = await token(intake_app.client, "food")

    async def found() -> bool:
        return bool(await search(intake_app, food, kana))

    await eventually(found)
    assert await search(intake_app, food, kana) == [eligible["case_id"]]
    response = await intake_app.client.get("/api/v1/cases", params={"q": kana}, headers=food)
    [item] = response.json()["items"]
    assert set(item) <= {"case_id", "case_number", "name_kana", "food_parcel_eligible"}
    assert not_yet["case_id"] not in await search(intake_app, food, not_yet["case_number"])
