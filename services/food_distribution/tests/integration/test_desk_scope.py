"""The desk's search sees only today's event and only households it has business with, and
every search and household view is in food's audit with the case ids shown (ADR 13)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from food_kit import Food, case_routed, uid
from sqlalchemy import text

from tsunagu.shared.clock import JAPAN, japan_today
from tsunagu.shared.contracts.envelope import Envelope

pytestmark = pytest.mark.integration


async def test_search_shows_only_eligible_served_or_at_the_desk(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=3)
    eligible = await food.case(event_id=ev, case_number="K-2026-0101", name_kana="ヤマダ ハナコ")
    served = await food.case(event_id=ev, case_number="K-2026-0102", name_kana="ヤマダ タロウ")
    await food.client().post(
        "/api/v1/handouts", json={"case_id": served["case_id"], "parcel_type": "standard"}
    )
    # Not eligible under routing's rules, never served: the desk has no business with it.
    other = await food.case(
        event_id=ev, case_number="K-2026-0103", name_kana="ヤマダ ジロウ", concerns=["isolation"]
    )
    c = food.client("desk7")

    async def found(q: str) -> list[str]:
        r = await c.get("/api/v1/cases", params={"event_id": ev, "q": q})
        assert r.status_code == 200, r.text
        return [h["case_number"] for h in r.json()]

    assert sorted(await found("やまだ")) == ["K-2026-0101", "K-2026-0102"]
    assert await found("0103") == []  # a tail of the number is not the resident at the desk
    assert await found("K-2026-0103") == ["K-2026-0103"]  # the full number from their slip

    audit = await food.rows(
        "SELECT actor, action, case_id, detail FROM food_distribution.audit_log"
        " WHERE actor = 'desk7' ORDER BY audit_id"
    )
    assert [(a.action, sorted(a.detail["case_ids"])) for a in audit] == [
        ("food.search", sorted([eligible["case_id"], served["case_id"]])),
        ("food.search", []),
        ("food.search", [other["case_id"]]),
    ]
    assert audit[2].case_id == other["case_id"]
    assert "ヤマダ" not in str([tuple(a) for a in audit])  # ids only, never the furigana

    status = await c.get(f"/api/v1/eligibility/{other['case_id']}")
    assert status.status_code == 200
    viewed = await food.rows(
        "SELECT detail FROM food_distribution.audit_log"
        " WHERE actor = 'desk7' AND action = 'food.household_view' AND case_id = :c",
        c=other["case_id"],
    )
    assert [v.detail["case_ids"] for v in viewed] == [[other["case_id"]]]

    listed = await c.get("/api/v1/handouts", params={"event_id": ev})
    assert listed.status_code == 200
    assert await food.scalar(
        "SELECT detail FROM food_distribution.audit_log"
        " WHERE actor = 'desk7' AND action = 'food.handouts_list'"
    ) == {"case_ids": [served["case_id"]]}  # fmt: skip


async def test_search_refuses_an_event_not_held_today(food: Food) -> None:
    ev = uid("ev")
    await food.case(event_id=ev, case_number="K-2026-0201", name_kana="サトウ ハナコ")
    async with food.runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE food_distribution.event SET held_on = held_on - 7 WHERE event_id = :e"),
            {"e": ev},
        )
    r = await food.client().get("/api/v1/cases", params={"event_id": ev, "q": "さとう"})
    assert r.status_code == 409
    assert r.json()["code"] == "event_not_today"
    assert "本日" in r.json()["message"]
    page = await food.client().get("/desk", params={"event_id": ev, "q": "さとう"})
    assert "サトウ" not in page.text and "本日の開催回ではない" in page.text


async def test_a_case_typed_in_after_its_events_day_is_filed_under_that_day(food: Food) -> None:
    """A paper sheet typed in a week later (an admin's leave): the event food first hears of
    through it is held on the day intake names, not the day it was typed in. Routing's events
    written before the day was carried still file the event under the case's own day."""
    late, old = uid("ev"), uid("ev")
    a_week_ago = japan_today() - timedelta(days=7)
    await food.case(event_id=late, name_kana="タナカ ハナコ", event_date=a_week_ago)
    written_before = await food.case(
        event_id=old, name_kana="タナカ ジロウ", without_event_date=True
    )
    typed_in = datetime.fromisoformat(written_before["created_at"]).astimezone(JAPAN).date()
    rows = await food.rows(
        "SELECT event_id, held_on FROM food_distribution.event WHERE event_id = ANY(:e)",
        e=[late, old],
    )
    held = {r.event_id: r.held_on for r in rows}
    assert held == {late: a_week_ago, old: typed_in}
    r = await food.client().get("/api/v1/cases", params={"event_id": late, "q": "たなか"})
    assert r.json()["code"] == "event_not_today"


async def test_a_withdrawal_leaves_food_only_what_a_handout_recorded(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=3)
    served = await food.case(event_id=ev, case_number="K-2026-0301", name_kana="スズキ イチロウ")
    waiting = await food.case(event_id=ev, case_number="K-2026-0302", name_kana="スズキ ジロウ")
    c = food.client()
    r = await c.post(
        "/api/v1/handouts", json={"case_id": served["case_id"], "parcel_type": "standard"}
    )
    assert r.status_code == 201
    for case in (served, waiting):
        await food.withdraw(case["case_id"])

    # The household not yet served: no furigana, no eligibility; the desk cannot find it by
    # name and a handout is refused.
    status = (await c.get(f"/api/v1/eligibility/{waiting['case_id']}")).json()
    assert status["eligible"] is False and status["may_receive"] is False
    assert (await hand_out(c, waiting["case_id"])).status_code == 409
    found = await c.get("/api/v1/cases", params={"event_id": ev, "q": "すずき"})
    assert found.json() == []
    # The household served keeps its handout and the eligibility it was given on.
    assert await food.scalar(
        "SELECT count(*) FROM food_distribution.handout WHERE case_id = :c", c=served["case_id"]
    ) == 1  # fmt: skip
    kept = (await c.get(f"/api/v1/eligibility/{served['case_id']}")).json()
    assert kept["eligible"] is True
    assert [
        h["case_id"] for h in (await c.get("/api/v1/handouts", params={"event_id": ev})).json()
    ] == [served["case_id"]]
    assert await food.scalar(
        "SELECT count(*) FROM food_distribution.case_index"
        " WHERE case_id IN (:a, :b) AND kana_sealed IS NOT NULL",
        a=served["case_id"],
        b=waiting["case_id"],
    ) == 0  # fmt: skip


async def test_after_a_withdrawal_only_a_later_decision_grants_again(food: Food) -> None:
    """Routing's decision made before the withdrawal, replayed late, grants nothing (the newer
    state wins); a correction routing decides after it (consent given again, facts corrected)
    grants as any decision does. The furigana does not come back."""
    ev = uid("ev")
    routed = case_routed(food.settings, event_id=ev, name_kana="スズキ サブロウ")
    case_id = routed.data["case_id"]
    await food.apply(routed)
    await food.withdraw(case_id)
    await food.apply(routed)  # the same event redelivered
    await food.apply(Envelope(**{**routed.model_dump(), "event_id": "re-" + routed.event_id}))
    c = food.client()
    assert (await c.get(f"/api/v1/eligibility/{case_id}")).json()["eligible"] is False

    await food.decide(case_id, True)  # made after the withdrawal
    assert (await c.get(f"/api/v1/eligibility/{case_id}")).json()["eligible"] is True
    assert await food.scalar(
        "SELECT count(*) FROM food_distribution.case_index"
        " WHERE case_id = :c AND kana_sealed IS NOT NULL",
        c=case_id,
    ) == 0  # fmt: skip


async def hand_out(client, case_id: str):
    return await client.post(
        "/api/v1/handouts", json={"case_id": case_id, "parcel_type": "standard"}
    )
