"""Two members of one household taken in separately: the desk links them, and the household
gets one parcel at the event, not one each. Refusals in the one error shape; audited; the link
published with the two household ids alone (ADR 33)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from food_kit import Food, eventually, uid
from sqlalchemy import text

from tsunagu.food_distribution.service_layer import handouts, households
from tsunagu.food_distribution.service_layer.handouts import household_lock_key
from tsunagu.shared.contracts import food as food_events
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.registry import parse
from tsunagu.shared.contracts.topics import FOOD

pytestmark = pytest.mark.integration


async def _two_members(food: Food) -> tuple[str, dict, dict]:
    ev = uid("ev")
    await food.stock(ev, standard=5)
    a = await food.case(event_id=ev, case_number=uid("K").upper(), name_kana="サトウ ハナコ")
    b = await food.case(event_id=ev, case_number=uid("K").upper(), name_kana="サトウ タロウ")
    assert a["household_id"] != b["household_id"]  # intake took them in as two households
    return ev, a, b


async def test_a_linked_member_gets_no_second_parcel(food: Food) -> None:
    ev, a, b = await _two_members(food)
    c = food.client("desk3")
    given = await c.post(
        "/api/v1/handouts", json={"case_id": a["case_id"], "parcel_type": "standard"}
    )
    assert given.status_code == 201, given.text
    before = (await c.get(f"/api/v1/eligibility/{b['case_id']}")).json()
    assert before["may_receive"] is True  # without the link, B would get a second parcel

    linked = await c.post(
        "/api/v1/households/links",
        json={"case_id": b["case_id"], "with_case_number": a["case_number"].lower()},
    )
    assert linked.status_code == 200, linked.text
    assert linked.json() == {
        "case_id": b["case_id"],
        "with_case_id": a["case_id"],
        "household_id": a["household_id"],
    }
    after = (await c.get(f"/api/v1/eligibility/{b['case_id']}")).json()
    assert after["may_receive"] is False
    assert after["members"] == [a["case_number"]]
    refused = await c.post(
        "/api/v1/handouts", json={"case_id": b["case_id"], "parcel_type": "standard"}
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "already_served"
    assert "desk3 さんが受け渡し済み" in refused.json()["message"]
    assert (
        await food.scalar(
            "SELECT count(*) FROM food_distribution.handout WHERE event_id = :e", e=ev
        )
        == 1
    )

    audit = await food.rows(
        "SELECT detail FROM food_distribution.audit_log"
        " WHERE actor = 'desk3' AND action = 'food.household_link'"
    )
    assert [sorted(r.detail["case_ids"]) for r in audit] == [sorted([a["case_id"], b["case_id"]])]
    assert "サトウ" not in str([r.detail for r in audit])


async def test_a_parcel_given_before_the_link_counts_for_the_joined_household(
    food: Food,
) -> None:
    _ev, a, b = await _two_members(food)
    c = food.client()
    first = await c.post(
        "/api/v1/handouts", json={"case_id": b["case_id"], "parcel_type": "standard"}
    )
    assert first.status_code == 201
    linked = await c.post(
        "/api/v1/households/links",
        json={"case_id": b["case_id"], "with_case_number": a["case_number"]},
    )
    assert linked.status_code == 200, linked.text
    refused = await c.post(
        "/api/v1/handouts", json={"case_id": a["case_id"], "parcel_type": "standard"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "already_served"


async def test_links_that_cannot_be_made_are_refused_in_japanese(food: Food) -> None:
    _ev, a, b = await _two_members(food)
    elsewhere = await food.case(event_id=uid("ev-other"), case_number=uid("K").upper())
    c = food.client()

    async def link(case_id: str, number: str):
        return await c.post(
            "/api/v1/households/links", json={"case_id": case_id, "with_case_number": number}
        )

    unknown = await link(b["case_id"], "K-9999-NOPE")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "case_not_found"
    assert "相談票の番号を確かめてください" in unknown.json()["message"]
    other_event = await link(b["case_id"], elsewhere["case_number"])
    assert other_event.status_code == 404  # only the people at this event
    same = await link(b["case_id"], b["case_number"])
    assert (same.status_code, same.json()["code"]) == (409, "same_case")
    assert (await link(b["case_id"], a["case_number"])).status_code == 200
    again = await link(a["case_id"], b["case_number"])
    assert (again.status_code, again.json()["code"]) == (409, "already_linked")
    assert "すでに同じ世帯です" in again.json()["message"]
    blank = await link(b["case_id"], "")
    assert blank.status_code == 422
    assert blank.json()["fields"][0]["loc"] == ["body", "with_case_number"]
    other_role = food.client("uketsuke", roles=("intake",))
    assert (
        await other_role.post(
            "/api/v1/households/links",
            json={"case_id": a["case_id"], "with_case_number": b["case_number"]},
        )
    ).status_code == 403


async def test_the_desk_page_links_and_says_so(food: Food) -> None:
    ev, a, b = await _two_members(food)
    c = food.client()
    page = await c.get("/desk", params={"event_id": ev, "case_id": b["case_id"]})
    assert "同じ世帯の人の相談番号" in page.text
    form = {"event_id": ev, "q": "", "case_id": b["case_id"]}
    empty = await c.post("/desk/households/link", data={**form, "with_case_number": " "})
    assert empty.status_code == 422
    assert "同じ世帯の人の相談番号（相談票の番号）を入力してください" in empty.text
    wrong = await c.post("/desk/households/link", data={**form, "with_case_number": "K-0000"})
    assert wrong.status_code == 404
    assert "この相談番号の相談は本日のこの開催にありません" in wrong.text
    assert 'value="K-0000"' in wrong.text  # what was typed stays
    done = await c.post(
        "/desk/households/link", data={**form, "with_case_number": a["case_number"]}
    )
    assert done.status_code == 303
    shown = await c.get(done.headers["location"])
    assert f"相談番号 {a['case_number']} の人と同じ世帯にしました" in shown.text
    assert f"相談番号 <strong>{a['case_number']}</strong>" in shown.text


async def test_only_at_todays_event(food: Food) -> None:
    ev, a, b = await _two_members(food)
    async with food.runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE food_distribution.event SET held_on = held_on - 7 WHERE event_id = :e"),
            {"e": ev},
        )
    r = await food.client().post(
        "/api/v1/households/links",
        json={"case_id": b["case_id"], "with_case_number": a["case_number"]},
    )
    assert r.status_code == 409
    assert r.json()["code"] == "event_not_today"
    assert r.json()["message"] == "本日の開催回ではないため、世帯を結びつけられません"
    assert (
        await food.scalar(
            "SELECT household_id FROM food_distribution.case_index WHERE case_id = :c",
            c=b["case_id"],
        )
        == b["household_id"]
    )


async def _published_links(food: Food, *case_ids: str) -> list[tuple[str, str, dict]]:
    rows = await food.rows(
        "SELECT topic, aggregateid, payload FROM food_distribution.outbox"
        " WHERE type = 'household_linked' AND aggregateid = ANY(:c)",
        c=list(case_ids),
    )
    return [(r.topic, r.aggregateid, r.payload) for r in rows]


async def test_a_link_is_published_with_the_two_households_and_no_one_named(food: Food) -> None:
    ev, a, b = await _two_members(food)
    c = food.client("desk7")
    given = await c.post(
        "/api/v1/handouts", json={"case_id": b["case_id"], "parcel_type": "standard"}
    )
    assert given.status_code == 201, given.text
    assert await _published_links(food, a["case_id"], b["case_id"]) == []

    linked = await c.post(
        "/api/v1/households/links",
        json={"case_id": b["case_id"], "with_case_number": a["case_number"]},
    )
    assert linked.status_code == 200, linked.text

    published = await _published_links(food, a["case_id"], b["case_id"])
    assert len(published) == 1
    topic, key, payload = published[0]
    # Keyed by the case at the desk, on food's own topic, in the link's transaction.
    assert (topic, key) == (FOOD.name, b["case_id"])
    envelope = Envelope.model_validate(payload)
    assert (envelope.event_type, envelope.producer) == ("household_linked", "food_distribution")
    data = parse(envelope, food_events.HouseholdLinked)
    assert data.moved_household_id == b["household_id"]
    assert data.joined_household_id == a["household_id"]
    assert (data.case_id, data.event_id) == (b["case_id"], ev)
    # Ids and a time only: no furigana, case number or staff member travels with it.
    assert set(envelope.data) == {
        "case_id", "event_id", "moved_household_id", "joined_household_id", "linked_at",
    }  # fmt: skip
    raw = str(payload)
    for named in ("サトウ", "desk7", a["case_number"], b["case_number"], a["kana_sealed"]):
        assert named not in raw, named


async def test_only_a_link_made_is_published_by_the_api_or_the_desk_form(food: Food) -> None:
    ev, a, b = await _two_members(food)
    c = food.client()
    assert (
        await c.post(
            "/api/v1/households/links",
            json={"case_id": b["case_id"], "with_case_number": b["case_number"]},
        )
    ).status_code == 409
    assert (
        await c.post(
            "/api/v1/households/links",
            json={"case_id": b["case_id"], "with_case_number": "K-9999-NOPE"},
        )
    ).status_code == 404
    assert await _published_links(food, a["case_id"], b["case_id"]) == []
    # The desk's form publishes the link as the API does.
    form = {"event_id": ev, "q": "", "case_id": b["case_id"]}
    done = await c.post(
        "/desk/households/link", data={**form, "with_case_number": a["case_number"]}
    )
    assert done.status_code == 303
    assert [key for _, key, _ in await _published_links(food, a["case_id"], b["case_id"])] == [
        b["case_id"]
    ]


# A handout or a link reads the case's household before it can take that household's lock.
# Below, a link holds its locks with its rows moved and not yet committed; the other request
# reads the household the case is leaving and waits on its lock; then the link commits.


@contextlib.asynccontextmanager
async def link_held_open(food: Food, case_id: str, with_case_number: str) -> AsyncIterator[None]:
    """A link made by the desk's own command, its transaction left open (its household locks
    held) until the block ends; it commits then."""
    async with food.runtime.sessions() as session, session.begin():
        await households.link(
            session, food.app.state.deps.outbox, case_id=case_id,
            with_case_number=with_case_number, staff="desk1",
        )  # fmt: skip
        yield


async def waits_on_household_lock(food: Food, *household_ids: str) -> None:
    """Until some transaction waits for the advisory lock of one of these households."""
    # pg_locks shows a 64-bit advisory key as its two halves, unsigned.
    keys = [household_lock_key(h) for h in household_ids]
    wanted = {((k >> 32) & 0xFFFFFFFF, k & 0xFFFFFFFF) for k in keys}

    async def waiting() -> bool:
        rows = await food.rows(
            "SELECT l.classid::bigint AS high, l.objid::bigint AS low"
            " FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            " WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted"
        )
        return any((r.high, r.low) in wanted for r in rows)

    await eventually(waiting, timeout=10, interval=0.02)


async def _household_of(food: Food, case_id: str) -> str:
    return await food.scalar(
        "SELECT household_id FROM food_distribution.case_index WHERE case_id = :c", c=case_id
    )


async def test_a_handout_waiting_on_a_link_counts_the_household_the_case_joined(
    food: Food,
) -> None:
    """A was served; B's handout waits while B joins A's household. Counted under B's old
    household (empty since), it would be decided for a household that no longer exists."""
    ev, a, b = await _two_members(food)
    c = food.client("desk3")
    given = await c.post(
        "/api/v1/handouts", json={"case_id": a["case_id"], "parcel_type": "standard"}
    )
    assert given.status_code == 201, given.text

    async with link_held_open(food, b["case_id"], a["case_number"]):
        handout = asyncio.create_task(
            food.client("desk4").post(
                "/api/v1/handouts",
                json={"case_id": b["case_id"], "parcel_type": "standard"},
                headers={"Idempotency-Key": uid("key")},
            )
        )
        # It read B's own household and waits for its lock, which the link holds.
        await waits_on_household_lock(food, b["household_id"])
    refused = await handout

    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "already_served"
    assert "desk3 さんが受け渡し済み" in refused.json()["message"]
    parcels = await food.rows(
        "SELECT household_id FROM food_distribution.handout WHERE event_id = :e", e=ev
    )
    assert [p.household_id for p in parcels] == [a["household_id"]]


async def test_a_handout_that_finds_the_case_moved_too_often_records_nothing(
    food: Food, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bounded loop's end: a transient fault (503, try again), the key not used up."""
    monkeypatch.setattr(handouts, "LOCK_ATTEMPTS", 1)
    ev, a, b = await _two_members(food)
    desk, key = food.client("desk4"), uid("key")

    def hand_to_b():
        return desk.post(
            "/api/v1/handouts",
            json={"case_id": b["case_id"], "parcel_type": "standard"},
            headers={"Idempotency-Key": key},
        )

    async with link_held_open(food, b["case_id"], a["case_number"]):
        handout = asyncio.create_task(hand_to_b())
        await waits_on_household_lock(food, b["household_id"])
    busy = await handout

    assert busy.status_code == 503, busy.text
    assert "Retry-After" in busy.headers
    assert await food.scalar(
        "SELECT count(*) FROM food_distribution.handout WHERE event_id = :e", e=ev
    ) == 0  # fmt: skip
    again = await hand_to_b()
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") is None
    assert again.json()["household_id"] == a["household_id"]


async def test_a_link_waiting_on_another_link_joins_the_household_the_case_joined(
    food: Food,
) -> None:
    """A was served; a third member joins B while B joins A. Moved into B's old household
    (empty since), the third member would be a household of their own and get a parcel."""
    ev, a, b = await _two_members(food)
    third = await food.case(event_id=ev, case_number=uid("K").upper(), name_kana="サトウ ジロウ")
    c = food.client("desk3")
    given = await c.post(
        "/api/v1/handouts", json={"case_id": a["case_id"], "parcel_type": "standard"}
    )
    assert given.status_code == 201, given.text

    async with link_held_open(food, b["case_id"], a["case_number"]):
        # The third member joins B's household from another desk, at the same moment.
        second = asyncio.create_task(
            food.client("desk4").post(
                "/api/v1/households/links",
                json={"case_id": third["case_id"], "with_case_number": b["case_number"]},
            )
        )
        await waits_on_household_lock(food, b["household_id"])
    linked = await second

    assert linked.status_code == 200, linked.text
    assert linked.json()["household_id"] == a["household_id"]
    for case in (a, b, third):
        assert await _household_of(food, case["case_id"]) == a["household_id"]
    published = await _published_links(food, third["case_id"])
    assert [p["data"]["joined_household_id"] for _, _, p in published] == [a["household_id"]]
    refused = await c.post(
        "/api/v1/handouts", json={"case_id": third["case_id"], "parcel_type": "standard"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "already_served"
    assert await food.scalar(
        "SELECT count(*) FROM food_distribution.handout WHERE event_id = :e", e=ev
    ) == 1  # fmt: skip


async def test_the_same_two_linked_from_two_desks_at_once_are_linked_once(food: Food) -> None:
    _ev, a, b = await _two_members(food)
    async with link_held_open(food, b["case_id"], a["case_number"]):
        again = asyncio.create_task(
            food.client("desk4").post(
                "/api/v1/households/links",
                json={"case_id": a["case_id"], "with_case_number": b["case_number"]},
            )
        )
        # The link holds both households' locks: it waits on the first it takes.
        await waits_on_household_lock(food, a["household_id"], b["household_id"])
    refused = await again

    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "already_linked"
    assert "すでに同じ世帯です" in refused.json()["message"]
    for case in (a, b):
        assert await _household_of(food, case["case_id"]) == a["household_id"]
    assert len(await _published_links(food, a["case_id"], b["case_id"])) == 1


async def waits_on_a_row_lock(food: Food) -> None:
    """Until some transaction of this database waits for a row another holds."""

    async def waiting() -> bool:
        rows = await food.rows(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple')"
        )
        return bool(rows)

    await eventually(waiting, timeout=10, interval=0.02)


async def test_a_grant_waiting_on_a_link_is_made_for_the_household_the_case_joined(
    food: Food,
) -> None:
    """B is granted a parcel by hand while B joins A's household. Made for B's old household,
    the grant would be left behind by the link's move, and the parcel refused for want of it."""
    ev = uid("ev")
    await food.stock(ev, standard=5)
    a = await food.case(event_id=ev, case_number=uid("K").upper(), eligible=False)
    b = await food.case(event_id=ev, case_number=uid("K").upper(), eligible=False)

    async with link_held_open(food, b["case_id"], a["case_number"]):
        grant = asyncio.create_task(
            food.client("desk4").post(
                "/api/v1/eligibility",
                json={"case_id": b["case_id"], "reason": "失業中で食料に困っている"},
            )
        )
        # It reads B's row, which the link has moved and holds until it commits.
        await waits_on_a_row_lock(food)
        assert not grant.done()
    granted = await grant
    assert granted.status_code == 201, granted.text

    household = await food.scalar(
        "SELECT household_id FROM food_distribution.eligibility WHERE case_id = :c",
        c=b["case_id"],
    )
    assert household == a["household_id"]
    given = await food.client("desk4").post(
        "/api/v1/handouts", json={"case_id": b["case_id"], "parcel_type": "standard"}
    )
    assert given.status_code == 201, given.text
    assert given.json()["household_id"] == a["household_id"]
