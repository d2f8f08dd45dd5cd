"""The desk runs its own stock: receive, move, correct a count, all through the page's forms."""

from __future__ import annotations

import csv
import io
import re

import pytest
from food_kit import DESK, LEAD, Food, uid
from sqlalchemy import text
from test_desk_forms import desk_client

pytestmark = pytest.mark.integration


def stock_form(html: str, action: str) -> dict[str, str]:
    """The hidden fields of one of the stock forms on the page."""
    form = html.split(f'action="/desk/stock/{action}"')[1].split("</form>")[0]
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))


async def balance(food: Food, ev: str, parcel_type: str) -> int:
    return int(
        await food.scalar(
            "SELECT quantity FROM food_distribution.stock WHERE event_id = :e AND parcel_type = :p",
            e=ev,
            p=parcel_type,
        )
    )


async def report(food: Food, ev: str) -> dict[str, dict[str, str]]:
    r = await food.client().get(f"/api/v1/reports/{ev}.csv")
    header, *body = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    return {row[3]: dict(zip(header, row, strict=True)) for row in body}


async def test_a_receipt_from_the_desk_is_in_the_ledger_and_the_report_once(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=10)
    desk = desk_client(food, roles=LEAD)
    page = await desk.get("/desk", params={"event_id": ev})
    form = {
        **stock_form(page.text, "receipts"),
        "parcel_type": "standard", "quantity": "２０", "source_kind": "フードバンク",
        "source_name": "フードバンク川口",
    }  # fmt: skip
    assert form["event_id"] == ev and form["csrf_token"] == "csrf-desk"

    sent = await desk.post("/desk/stock/receipts", data=form, follow_redirects=False)
    again = await desk.post("/desk/stock/receipts", data=form, follow_redirects=False)
    assert sent.status_code == again.status_code == 303
    assert await balance(food, ev, "standard") == 30  # full-width digits read, applied once

    shown = await desk.get(sent.headers["location"])
    assert "標準を 20 個受け入れました（フードバンク：フードバンク川口）。在庫 30 個" in shown.text
    assert "tanaka" in shown.text.split("在庫の記録")[1]
    rows = await food.rows(
        "SELECT kind, quantity, source, staff FROM food_distribution.stock_movement"
        " WHERE event_id = :e AND staff = 'tanaka'",
        e=ev,
    )
    assert [tuple(r) for r in rows] == [("receipt", 20, "フードバンク：フードバンク川口", "tanaka")]
    assert (await report(food, ev))["標準"]["受入（寄付等）"] == "30"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quantity": ""}, "数量を入力してください"),
        ({"quantity": "abc"}, "数量は 1 以上の整数で入力してください"),
        ({"quantity": "-3"}, "数量は 1 以上の整数で入力してください"),
        ({"quantity": "0"}, "数量は 1 以上にしてください"),
        ({"quantity": "100001"}, "数量は 100,000 以下にしてください"),
        ({"source_name": " "}, "受け入れ元（フードバンク名・寄付者名）を入力してください"),
        ({"parcel_type": "rice"}, "種類を選んでください"),
    ],
)
async def test_bad_receipts_are_refused_in_japanese_and_keep_what_was_typed(
    food: Food, fields: dict[str, str], message: str
) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=10)
    desk = desk_client(food, roles=LEAD)
    page = await desk.get("/desk", params={"event_id": ev})
    form = {
        **stock_form(page.text, "receipts"), "parcel_type": "standard", "quantity": "5",
        "source_kind": "寄付（個人・団体）", "source_name": "山田商店", **fields,
    }  # fmt: skip
    r = await desk.post("/desk/stock/receipts", data=form)
    assert r.status_code == 422
    assert message in r.text
    if "source_name" not in fields:
        assert 'value="山田商店"' in r.text  # nothing typed is lost
    assert await balance(food, ev, "standard") == 10
    # The same form, corrected, still goes through (the refused key was not used up).
    fixed = {**form, "parcel_type": "standard", "quantity": "5", "source_name": "山田商店"}
    ok = await desk.post("/desk/stock/receipts", data=fixed, follow_redirects=False)
    assert ok.status_code == 303
    assert await balance(food, ev, "standard") == 15


async def test_move_to_another_event_and_refuse_more_than_there_is(food: Food) -> None:
    here, there = uid("ev"), uid("ev")
    await food.stock(here, standard=10)
    await food.stock(there, "venue-station", standard=1)
    # The form offers the 50 most recent events; other tests leave many of today's behind, so
    # the destination is tomorrow's event (where leftovers usually go), always among them.
    async with food.runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE food_distribution.event SET held_on = held_on + 1 WHERE event_id = :e"),
            {"e": there},
        )
    desk = desk_client(food, roles=LEAD)
    page = await desk.get("/desk", params={"event_id": here})
    assert f'<option value="{there}"' in page.text.split('action="/desk/stock/transfers"')[1]
    base = {**stock_form(page.text, "transfers"), "parcel_type": "standard", "to_event_id": there}

    short = await desk.post("/desk/stock/transfers", data={**base, "quantity": "11"})
    assert short.status_code == 409
    assert "標準の在庫が足りません（残り 10" in short.text
    nowhere = await desk.post(
        "/desk/stock/transfers", data={**base, "to_event_id": "", "quantity": "1"}
    )
    assert nowhere.status_code == 422 and "移動先の開催を選んでください" in nowhere.text

    moved = await desk.post(
        "/desk/stock/transfers", data={**base, "quantity": "4"}, follow_redirects=False
    )
    assert moved.status_code == 303
    assert (await balance(food, here, "standard"), await balance(food, there, "standard")) == (6, 5)
    assert (
        f"標準を 4 個、{there} へ移しました。在庫 6 個"
        in (await desk.get(moved.headers["location"])).text
    )
    assert (await report(food, here))["標準"]["移動（払出）"] == "4"
    assert (await report(food, there))["標準"]["移動（受入）"] == "4"


async def test_a_count_correction_takes_the_difference_with_its_reason_and_alerts_low(
    food: Food,
) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=10)
    desk = desk_client(food, roles=LEAD)
    page = await desk.get("/desk", params={"event_id": ev})
    base = {**stock_form(page.text, "adjustments"), "parcel_type": "standard"}

    no_reason = await desk.post("/desk/stock/adjustments", data={**base, "counted": "3"})
    assert no_reason.status_code == 422
    assert "修正の理由を入力してください" in no_reason.text
    same = await desk.post(
        "/desk/stock/adjustments", data={**base, "counted": "10", "reason": "棚卸し"}
    )
    assert same.status_code == 422 and "今の在庫（10 個）と同じです" in same.text

    fixed = await desk.post(
        "/desk/stock/adjustments",
        data={**base, "counted": "3", "reason": "箱が濡れて7個廃棄"},
        follow_redirects=False,
    )
    assert fixed.status_code == 303
    assert await balance(food, ev, "standard") == 3
    shown = (await desk.get(fixed.headers["location"])).text
    assert "標準の数を -7 個修正しました（箱が濡れて7個廃棄）。在庫 3 個" in shown
    assert "残りわずか" in shown
    row = (
        await food.rows(
            "SELECT delta, reason, staff FROM food_distribution.stock_movement"
            " WHERE event_id = :e AND kind = 'adjustment'",
            e=ev,
        )
    )[0]
    assert tuple(row) == (-7, "箱が濡れて7個廃棄", "tanaka")
    alerts = await food.rows(
        "SELECT payload FROM food_distribution.outbox WHERE type = 'stock_low' AND aggregateid = :e",
        e=ev,
    )
    assert [a.payload["data"]["remaining"] for a in alerts] == [3]
    assert (await report(food, ev))["標準"]["調整（増減）"] == "-7"


async def test_stock_forms_need_the_csrf_token(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=10)
    desk = desk_client(food, roles=LEAD)
    form = {"event_id": ev, "parcel_type": "standard", "quantity": "5",
            "source_kind": "フードバンク", "source_name": "x"}  # fmt: skip
    assert (await desk.post("/desk/stock/receipts", data=form)).status_code == 403
    assert await balance(food, ev, "standard") == 10


async def test_only_the_lead_changes_stock_and_a_member_is_told_so_in_japanese(food: Food) -> None:
    """Receipts, transfers and corrections are the food desk lead's (or an admin's); a desk
    member hands parcels out and sees the stock and its ledger, not the forms."""
    ev, there = uid("ev"), uid("ev")
    await food.stock(ev, standard=10)
    await food.stock(there, standard=1)
    member = desk_client(food, username="haifu", roles=DESK)
    page = await member.get("/desk", params={"event_id": ev})
    assert page.status_code == 200
    assert 'action="/desk/stock/' not in page.text
    assert "食料品配布リーダーが行います" in page.text
    assert "在庫の記録" in page.text  # the ledger is still shown

    lead_page = await desk_client(food, roles=LEAD).get("/desk", params={"event_id": ev})
    form = {**stock_form(lead_page.text, "receipts"), "parcel_type": "standard",
            "quantity": "5", "source_kind": "フードバンク", "source_name": "x"}  # fmt: skip
    refused = await member.post("/desk/stock/receipts", data=form)
    assert refused.status_code == 403
    assert "この操作の権限がありません" in refused.text

    api = food.client("haifu", roles=DESK)
    bodies = {
        "receipts": {"event_id": ev, "venue_id": "venue-aeon", "parcel_type": "standard",
                     "quantity": 5, "source": "フードバンク埼玉"},
        "transfers": {"from_event_id": ev, "to_event_id": there, "parcel_type": "standard",
                      "quantity": 1},
        "adjustments": {"event_id": ev, "parcel_type": "standard", "delta": -1,
                        "reason": "棚卸し"},
    }  # fmt: skip
    for kind, body in bodies.items():
        r = await api.post(f"/api/v1/stock/{kind}", json=body)
        assert r.status_code == 403, (kind, r.text)
        assert r.json()["code"] and r.json()["message"] == "この操作の権限がありません"
    assert (await api.get("/api/v1/stock", params={"event_id": ev})).status_code == 200
    assert await balance(food, ev, "standard") == 10  # nothing changed

    admin = food.client("admin", roles=("admin",))
    assert (await admin.post("/api/v1/stock/receipts", json=bodies["receipts"])).status_code == 201
    assert await balance(food, ev, "standard") == 15
