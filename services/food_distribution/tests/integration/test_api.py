"""The food distribution API on real PostgreSQL: stock, eligibility, handouts, errors, report."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from food_kit import Food, token, uid

from tsunagu.food_distribution.domain.handout import JST
from tsunagu.shared.auth import COOKIE_NAME
from tsunagu.shared.contracts.codes import ParcelType

pytestmark = pytest.mark.integration


async def hand_out(client, case_id: str, parcel_type: str = "standard", key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return await client.post(
        "/api/v1/handouts", json={"case_id": case_id, "parcel_type": parcel_type}, headers=headers
    )


async def remaining(food: Food, event_id: str) -> dict[str, int]:
    r = await food.client().get("/api/v1/stock", params={"event_id": event_id})
    assert r.status_code == 200, r.text
    return {i["parcel_type"]: i["remaining"] for i in r.json()["items"]}


async def test_receipts_build_stock_per_event_and_type(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=12, infant=2)
    await food.stock(ev, standard=3)
    assert await remaining(food, ev) == {
        "standard": 15, "no_pork": 0, "allergy_friendly": 0, "infant": 2,
    }  # fmt: skip
    ledger = await food.rows(
        "SELECT kind, quantity, source, staff, created_at FROM food_distribution.stock_movement"
        " WHERE event_id = :e ORDER BY movement_id",
        e=ev,
    )
    assert [(r.kind, r.quantity, r.source, r.staff) for r in ledger] == [
        ("receipt", 12, "フードバンク埼玉", "stocker"),
        ("receipt", 2, "フードバンク埼玉", "stocker"),
        ("receipt", 3, "フードバンク埼玉", "stocker"),
    ]
    assert all(r.created_at is not None for r in ledger)


async def test_a_routed_case_keeps_only_what_a_handout_needs(food: Food) -> None:
    ev = uid("ev")
    eligible = await food.case(event_id=ev, concerns=["income_shortfall", "isolation"])
    other = await food.case(event_id=ev, concerns=["isolation"], name_kana="ｻﾄｳ ｼﾞﾛｳ")

    columns = await food.rows(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'food_distribution' AND table_name = 'case_index'"
    )
    assert {c.column_name for c in columns} == {
        "case_id", "case_number", "household_id", "event_id", "kana_sealed", "created_at",
        "withdrawn_at",
    }  # fmt: skip
    row = (
        await food.rows(
            "SELECT * FROM food_distribution.case_index WHERE case_id = :c", c=eligible["case_id"]
        )
    )[0]
    # The furigana alone, sealed with the resident's kana key: nothing readable is kept.
    assert row.kana_sealed == eligible["kana_sealed"]
    assert "ヤマダ" not in str(tuple(row)) and "山田" not in str(tuple(row))
    assert "090" not in str(tuple(row))
    found = await food.client().get("/api/v1/cases", params={"event_id": ev, "q": "やまだ"})
    assert [h["name_kana"] for h in found.json()] == ["ヤマダ ハナコ"]  # opened at the desk

    granted = await food.rows(
        "SELECT aggregateid, payload FROM food_distribution.outbox"
        " WHERE type = 'eligibility_granted' AND aggregateid IN (:a, :b)",
        a=eligible["case_id"],
        b=other["case_id"],
    )
    assert len(granted) == 1
    assert granted[0].aggregateid == eligible["case_id"]
    data = granted[0].payload["data"]
    assert data["basis"] == "economic_concern"
    assert data["household_id"] == eligible["household_id"]
    assert data["event_id"] == ev

    c = food.client()
    r = await c.get(f"/api/v1/eligibility/{eligible['case_id']}")
    assert r.status_code == 200
    body = r.json()
    assert body["eligible"] is True and body["may_receive"] is True
    assert body["basis"] == "economic_concern"
    assert body["reason"] is None  # the concerns behind it are not the desk's business
    assert "name_kana" not in body
    r = await c.get(f"/api/v1/eligibility/{other['case_id']}")
    assert r.json()["eligible"] is False
    assert r.json()["refusal"]["code"] == "not_eligible"


async def test_a_corrected_case_routing_finds_eligible_is_granted_once(food: Food) -> None:
    ev = uid("ev")
    case = await food.case(event_id=ev, concerns=["isolation"])
    await food.decide(case["case_id"], True)
    await food.decide(case["case_id"], True)
    await food.decide(case["case_id"], False)  # a grant is never taken back
    published = await food.rows(
        "SELECT payload FROM food_distribution.outbox"
        " WHERE type = 'eligibility_granted' AND aggregateid = :c",
        c=case["case_id"],
    )
    assert len(published) == 1
    status = (await food.client().get(f"/api/v1/eligibility/{case['case_id']}")).json()
    assert status["eligible"] is True


async def test_handout_is_recorded_with_type_staff_and_time(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, no_pork=4)
    case = await food.case(event_id=ev)
    before = datetime.now(UTC)

    r = await hand_out(food.client("sato"), case["case_id"], "no_pork")
    assert r.status_code == 201, r.text
    handout = r.json()
    assert handout["case_id"] == case["case_id"]
    assert handout["case_number"] == case["case_number"]
    assert handout["household_id"] == case["household_id"]
    assert handout["event_id"] == ev
    assert handout["parcel_type"] == "no_pork"
    assert handout["handed_out_by"] == "sato"
    assert handout["remaining"] == 3
    at = datetime.fromisoformat(handout["handed_out_at"])
    assert before - timedelta(seconds=1) <= at <= datetime.now(UTC) + timedelta(seconds=1)

    assert (await remaining(food, ev))["no_pork"] == 3
    listed = (await food.client().get("/api/v1/handouts", params={"event_id": ev})).json()
    assert [h["handout_id"] for h in listed] == [handout["handout_id"]]
    movement = (
        await food.rows(
            "SELECT kind, quantity, delta, balance_after, staff, handout_id"
            " FROM food_distribution.stock_movement WHERE event_id = :e AND kind = 'handout'",
            e=ev,
        )
    )[0]
    assert tuple(movement) == ("handout", 1, -1, 3, "sato", handout["handout_id"])
    published = await food.rows(
        "SELECT aggregateid, payload FROM food_distribution.outbox"
        " WHERE type = 'parcel_handed_out' AND aggregateid = :c",
        c=case["case_id"],
    )
    assert len(published) == 1
    assert published[0].payload["data"]["handout_id"] == handout["handout_id"]

    status = (await food.client().get(f"/api/v1/eligibility/{case['case_id']}")).json()
    assert [h["handout_id"] for h in status["received"]] == [handout["handout_id"]]
    assert status["may_receive"] is False
    assert status["refusal"]["code"] == "already_served"


async def test_not_eligible_is_409_with_the_reason(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=5)
    case = await food.case(event_id=ev, concerns=["isolation", "health"])
    r = await hand_out(food.client(), case["case_id"])
    assert r.status_code == 409
    detail = r.json()
    assert detail["code"] == "not_eligible"
    assert detail["reason"] == "not_eligible_by_routing"
    assert "振り分けの判断で対象とされておらず" in detail["message"]
    assert "routing has not found the case eligible" in detail["message_en"]
    assert (await remaining(food, ev))["standard"] == 5


async def test_already_served_is_409_naming_when_and_by_whom(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=5, infant=2)
    case = await food.case(event_id=ev)
    first = await hand_out(food.client("tanaka"), case["case_id"])
    assert first.status_code == 201
    # Another desk, another parcel type: still the same household at the same event.
    r = await hand_out(food.client("sato"), case["case_id"], "infant")
    assert r.status_code == 409
    detail = r.json()
    assert detail["code"] == "already_served"
    assert detail["handed_out_by"] == "tanaka"
    served_at = datetime.fromisoformat(detail["handed_out_at"])
    assert served_at == datetime.fromisoformat(first.json()["handed_out_at"])
    when = served_at.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    assert detail["message"] == f"{when} に tanaka さんが受け渡し済みです"
    assert await remaining(food, ev) == {
        "standard": 4, "no_pork": 0, "allergy_friendly": 0, "infant": 2,
    }  # fmt: skip


async def test_out_of_stock_is_409_with_what_remains(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=3, infant=1)
    case = await food.case(event_id=ev)
    r = await hand_out(food.client(), case["case_id"], "allergy_friendly")
    assert r.status_code == 409
    detail = r.json()
    assert detail["code"] == "out_of_stock"
    assert detail["parcel_type"] == "allergy_friendly"
    assert detail["remaining"] == {
        "standard": 3, "no_pork": 0, "allergy_friendly": 0, "infant": 1,
    }  # fmt: skip
    assert "アレルギー対応は在庫切れです" in detail["message"]
    # Refused is not served: the household can still take another type.
    assert (await hand_out(food.client(), case["case_id"], "standard")).status_code == 201


async def test_unknown_case_is_404(food: Food) -> None:
    r = await hand_out(food.client(), "case-that-never-was")
    assert r.status_code == 404
    assert r.json()["code"] == "case_not_found"
    assert (await food.client().get("/api/v1/eligibility/nope")).status_code == 404
    assert (
        await food.client().get("/api/v1/stock", params={"event_id": "nope"})
    ).status_code == 404


async def test_manual_grant_with_reason_then_handout(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=2)
    case = await food.case(event_id=ev, concerns=["isolation"])
    lead = food.client("lead")

    r = await lead.post("/api/v1/eligibility", json={"case_id": case["case_id"], "reason": "  "})
    assert r.status_code == 422
    assert r.json()["fields"][0]["loc"] == ["body", "reason"]

    reason = "所持金がなく本日の食事がない"
    r = await lead.post("/api/v1/eligibility", json={"case_id": case["case_id"], "reason": reason})
    assert r.status_code == 201, r.text
    assert r.json()["basis"] == "manual"
    assert r.json()["granted_by"] == "lead"
    assert r.json()["reason"] == reason
    again = await lead.post("/api/v1/eligibility", json={"case_id": case["case_id"], "reason": "x"})
    assert again.status_code == 200
    assert again.json()["reason"] == reason

    published = await food.rows(
        "SELECT payload FROM food_distribution.outbox"
        " WHERE type = 'eligibility_granted' AND aggregateid = :c",
        c=case["case_id"],
    )
    assert [p.payload["data"]["basis"] for p in published] == ["manual"]
    assert published[0].payload["data"]["granted_by"] == "lead"
    assert (await hand_out(food.client(), case["case_id"])).status_code == 201

    unknown = await lead.post("/api/v1/eligibility", json={"case_id": "nope", "reason": reason})
    assert unknown.status_code == 404


async def test_a_grant_on_one_case_covers_the_household_at_that_event(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=2)
    hh = uid("hh")
    await food.case(event_id=ev, household_id=hh, concerns=["debt_arrears"])
    spouse = await food.case(event_id=ev, household_id=hh, concerns=["health"])
    assert (await hand_out(food.client(), spouse["case_id"])).status_code == 201


async def test_idempotency_key_same_body_same_answer_one_handout(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=5)
    case = await food.case(event_id=ev)
    c = food.client()
    key = uid("key")

    first = await hand_out(c, case["case_id"], key=key)
    second = await hand_out(c, case["case_id"], key=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert (await remaining(food, ev))["standard"] == 4
    count = await food.scalar(
        "SELECT count(*) FROM food_distribution.handout WHERE case_id = :c", c=case["case_id"]
    )
    assert count == 1

    reused = await hand_out(c, case["case_id"], "infant", key=key)
    assert reused.status_code == 422
    assert reused.json()["fields"][0]["loc"] == ["header", "Idempotency-Key"]

    # A new key is a new request: the household has been served.
    assert (await hand_out(c, case["case_id"], key=uid("key"))).status_code == 409


async def test_idempotency_key_replays_a_refusal_too(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=1)
    case = await food.case(event_id=ev, concerns=["isolation"])
    c = food.client()
    key = uid("key")
    first = await hand_out(c, case["case_id"], key=key)
    second = await hand_out(c, case["case_id"], key=key)
    assert first.status_code == second.status_code == 409
    assert first.json() == second.json()
    # Keys belong to the staff member who sent them.
    assert (await hand_out(food.client("other"), case["case_id"], key=key)).status_code == 409


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/handouts", {"case_id": "c", "parcel_type": "vegan"}, "parcel_type"),
        ("/api/v1/handouts", {"parcel_type": "standard"}, "case_id"),
        ("/api/v1/handouts", {"case_id": "c", "parcel_type": "standard", "x": 1}, "x"),
        (
            "/api/v1/stock/receipts",
            {"event_id": "e", "venue_id": "v", "parcel_type": "standard", "quantity": 0,
             "source": "d"},
            "quantity",
        ),
        (
            "/api/v1/stock/receipts",
            {"event_id": "e", "venue_id": "v", "parcel_type": "standard", "quantity": "5",
             "source": "d"},
            "quantity",
        ),
        (
            "/api/v1/stock/receipts",
            {"event_id": "e", "venue_id": "v", "parcel_type": "standard", "quantity": 5,
             "source": " "},
            "source",
        ),
        (
            "/api/v1/stock/adjustments",
            {"event_id": "e", "parcel_type": "standard", "delta": -1, "reason": ""},
            "reason",
        ),
        (
            "/api/v1/stock/adjustments",
            {"event_id": "e", "parcel_type": "standard", "delta": 0, "reason": "棚卸し"},
            "delta",
        ),
        (
            "/api/v1/stock/transfers",
            {"from_event_id": "e", "to_event_id": "e", "parcel_type": "standard", "quantity": 1},
            "to_event_id",
        ),
    ],
)  # fmt: skip
async def test_invalid_input_is_422_naming_the_field(
    food: Food, path: str, body: dict, field: str
) -> None:
    r = await food.client().post(path, json=body)
    assert r.status_code == 422, r.text
    assert any(e["loc"][-1] == field for e in r.json()["fields"]), r.json()


async def test_401_without_a_token_and_403_for_other_roles(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=1)
    anonymous = food.client(roles=())
    for method, path in [
        ("GET", f"/api/v1/stock?event_id={ev}"),
        ("POST", "/api/v1/handouts"),
        ("GET", f"/api/v1/reports/{ev}.csv"),
    ]:
        r = await anonymous.request(method, path, json={})
        assert r.status_code == 401, path
        assert r.headers["WWW-Authenticate"] == "Bearer"
    for role in ("intake", "programme", "auditor"):
        r = await food.client(roles=(role,)).get("/api/v1/stock", params={"event_id": ev})
        assert r.status_code == 403, role
    admin = await food.client("root", roles=("admin",)).get(
        "/api/v1/stock", params={"event_id": ev}
    )
    assert admin.status_code == 200


async def test_desk_page_sends_strangers_to_the_intake_login(food: Food) -> None:
    r = await food.client(roles=()).get(
        "/desk?event_id=ev-1", headers={"Accept": "text/html"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith(food.settings.intake_url + "/login?next=")
    assert "%2Fdesk%3Fevent_id%3Dev-1" in r.headers["location"]
    r = await food.client(roles=("intake",)).get("/desk", headers={"Accept": "text/html"})
    assert r.status_code == 403
    assert "権限がありません" in r.text


async def test_cookie_posts_need_the_csrf_token(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=3)
    case = await food.case(event_id=ev)
    session = token(food.settings, "food", ["food_desk"], csrf="csrf-123")
    c = food.client(roles=())
    c.cookies.set(COOKIE_NAME, session)
    body = {"case_id": case["case_id"], "parcel_type": "standard"}
    r = await c.post("/api/v1/handouts", json=body)
    assert r.status_code == 403
    r = await c.post("/api/v1/handouts", json=body, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    r = await c.post("/api/v1/handouts", json=body, headers={"X-CSRF-Token": "csrf-123"})
    assert r.status_code == 201
    # Bearer clients are not exposed to CSRF and need no token.
    assert (await food.client().get("/api/v1/stock", params={"event_id": ev})).status_code == 200


async def test_transfers_and_adjustments_keep_a_ledger_and_never_go_negative(food: Food) -> None:
    east, west = uid("ev"), uid("ev")
    await food.stock(east, venue_id="venue-east", standard=10)
    c = food.client("lead")

    r = await c.post(
        "/api/v1/stock/transfers",
        json={"from_event_id": east, "to_event_id": west, "to_venue_id": "venue-west",
              "parcel_type": "standard", "quantity": 4},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert (r.json()["from_remaining"], r.json()["to_remaining"]) == (6, 4)

    r = await c.post(
        "/api/v1/stock/transfers",
        json={"from_event_id": west, "to_event_id": east, "parcel_type": "standard",
              "quantity": 5},
    )  # fmt: skip
    assert r.status_code == 409
    assert r.json()["code"] == "out_of_stock"
    assert r.json()["remaining"]["standard"] == 4

    r = await c.post(
        "/api/v1/stock/adjustments",
        json={"event_id": east, "parcel_type": "standard", "delta": -7, "reason": "破損"},
    )
    assert r.status_code == 409
    r = await c.post(
        "/api/v1/stock/adjustments",
        json={"event_id": east, "parcel_type": "standard", "delta": -2, "reason": "破損"},
    )
    assert r.status_code == 201
    assert r.json()["items"][0]["remaining"] == 4

    wrong_venue = await c.post(
        "/api/v1/stock/receipts",
        json={"event_id": east, "venue_id": "venue-west", "parcel_type": "standard",
              "quantity": 1, "source": "d"},
    )  # fmt: skip
    assert wrong_venue.status_code == 409
    assert wrong_venue.json()["code"] == "venue_mismatch"

    ledger = await food.rows(
        "SELECT event_id, venue_id, kind, quantity, counterpart, reason, staff, balance_after"
        " FROM food_distribution.stock_movement WHERE event_id IN (:a, :b) ORDER BY movement_id",
        a=east,
        b=west,
    )
    assert [tuple(r) for r in ledger] == [
        (east, "venue-east", "receipt", 10, None, None, "stocker", 10),
        (east, "venue-east", "transfer_out", 4, west, None, "lead", 6),
        (west, "venue-west", "transfer_in", 4, east, None, "lead", 4),
        (east, "venue-east", "adjustment", -2, None, "破損", "lead", 4),
    ]
    assert (await remaining(food, west))["standard"] == 4


async def test_event_report_csv(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=6, infant=2)
    a, b = await food.case(event_id=ev), await food.case(event_id=ev)
    assert (await hand_out(food.client(), a["case_id"])).status_code == 201
    assert (await hand_out(food.client(), b["case_id"], "infant")).status_code == 201

    r = await food.client().get(f"/api/v1/reports/{ev}.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert f'filename="food-report-{ev}.csv"' in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header, *body = rows
    table = {row[3]: dict(zip(header, row, strict=True)) for row in body}
    assert table["標準"]["配布数"] == "1"
    assert table["標準"]["在庫残数"] == "5"
    assert table["乳幼児用"]["在庫残数"] == "1"
    assert table["合計"]["配布世帯数"] == "2"
    assert table["合計"]["受入（寄付等）"] == "8"
    assert (await food.client().get("/api/v1/reports/nope.csv")).status_code == 404


async def test_search_by_case_number_or_furigana_within_the_event(food: Food) -> None:
    ev, elsewhere = uid("ev"), uid("ev")
    await food.case(event_id=ev, case_number="K-2026-0042", name_kana="ヤマダ ハナコ")
    await food.case(event_id=ev, case_number="K-2026-0043", name_kana="やまもと　たろう")
    await food.case(event_id=elsewhere, case_number="K-2026-0044", name_kana="ヤマダ ジロウ")
    c = food.client()

    async def found(q: str) -> list[str]:
        r = await c.get("/api/v1/cases", params={"event_id": ev, "q": q})
        assert r.status_code == 200
        return [h["case_number"] for h in r.json()]

    assert await found("やまだ") == ["K-2026-0042"]
    assert await found("ﾔﾏﾀﾞ") == ["K-2026-0042"]
    assert await found("ヤマ") == ["K-2026-0042", "K-2026-0043"]
    assert await found("やまもとたろう") == ["K-2026-0043"]
    assert await found("k-2026-0043") == ["K-2026-0043"]
    assert await found("００４２") == ["K-2026-0042"]
    assert await found("0044") == []
    assert await found("%") == []
    hit = (await c.get("/api/v1/cases", params={"event_id": ev, "q": "0042"})).json()[0]
    assert set(hit) == {"case_id", "case_number", "name_kana", "eligible", "served"}


async def test_per_event_limit_is_configurable(make_food) -> None:
    food = make_food(per_event=2)
    ev = uid("ev")
    await food.stock(ev, standard=5)
    case = await food.case(event_id=ev)
    for _ in range(2):
        assert (await hand_out(food.client(), case["case_id"])).status_code == 201
    r = await hand_out(food.client(), case["case_id"])
    assert r.status_code == 409
    assert r.json()["per_event"] == 2


async def test_once_per_30_days_across_events(make_food) -> None:
    food = make_food(min_days_between=30)
    first, second = uid("ev"), uid("ev")
    hh = uid("hh")
    await food.stock(first, standard=2)
    await food.stock(second, standard=2)
    a = await food.case(event_id=first, household_id=hh)
    b = await food.case(event_id=second, household_id=hh)
    assert (await hand_out(food.client("tanaka"), a["case_id"])).status_code == 201
    r = await hand_out(food.client(), b["case_id"])
    assert r.status_code == 409
    detail = r.json()
    assert detail["rule"] == "min_days_between"
    assert detail["handed_out_by"] == "tanaka"
    assert "30日に1回まで" in detail["message"]


async def test_low_stock_is_written_to_the_outbox_once_per_crossing(make_food) -> None:
    food = make_food(low_stock_threshold=3)
    ev = uid("ev")
    await food.stock(ev, standard=4)
    # The first case names the venue; the alerts name it too.
    names = ["イオンモール", None, None, None]
    households = [await food.case(event_id=ev, venue_name=name) for name in names]
    for case in households[:3]:  # 4 -> 3 -> 2 (crossing) -> 1
        assert (await hand_out(food.client(), case["case_id"])).status_code == 201
    await food.stock(ev, standard=5)  # 6: recovered
    r = await food.client().post(
        "/api/v1/stock/adjustments",
        json={"event_id": ev, "parcel_type": "standard", "delta": -5, "reason": "期限切れ"},
    )
    assert r.status_code == 201  # 6 -> 1: a second crossing
    assert (await hand_out(food.client(), households[3]["case_id"])).status_code == 201  # 0

    alerts = await food.rows(
        "SELECT aggregatetype, payload FROM food_distribution.outbox"
        " WHERE type = 'stock_low' AND aggregateid = :e ORDER BY seq",
        e=ev,
    )
    assert [a.aggregatetype for a in alerts] == ["event", "event"]
    assert [a.payload["data"]["remaining"] for a in alerts] == [2, 1]
    assert {a.payload["data"]["parcel_type"] for a in alerts} == {ParcelType.STANDARD.value}
    assert alerts[0].payload["data"]["threshold"] == 3
    assert alerts[0].payload["data"]["venue_id"] == "venue-aeon"
    assert {a.payload["data"]["venue_name"] for a in alerts} == {"イオンモール"}
