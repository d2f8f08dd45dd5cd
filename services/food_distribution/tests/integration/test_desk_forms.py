"""The desk's forms over HTTP: cookie session, CSRF, one tap = one handout, grants, refusals."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest
from food_kit import DESK, Food, token, uid

from tsunagu.shared.auth import COOKIE_NAME

pytestmark = pytest.mark.integration


def desk_client(
    food: Food, username: str = "tanaka", csrf: str = "csrf-desk", roles: Iterable[str] = DESK
):
    """The desk page as a signed-in member sees it (a food desk member unless ``roles`` say)."""
    client = food.client(roles=())
    client.cookies.set(COOKIE_NAME, token(food.settings, username, roles, csrf=csrf))
    return client


def hidden(html: str, name: str, parcel_type: str | None = None) -> str:
    """A hidden field's value; with ``parcel_type``, from that type's button form."""
    if parcel_type is not None:
        html = html.split(f'name="parcel_type" value="{parcel_type}"')[0].rsplit("<form", 1)[1]
    return re.findall(rf'name="{name}" value="([^"]*)"', html)[-1]


async def test_one_tap_then_a_resubmitted_form_records_one_handout(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=5)
    case = await food.case(event_id=ev)
    desk = desk_client(food)
    page = await desk.get("/desk", params={"event_id": ev, "case_id": case["case_id"]})
    assert page.status_code == 200
    assert "配布対象です" in page.text
    form = {
        "csrf_token": hidden(page.text, "csrf_token"),
        "idempotency_key": hidden(page.text, "idempotency_key", "standard"),
        "event_id": ev,
        "case_id": case["case_id"],
        "parcel_type": "standard",
    }
    assert form["csrf_token"] == "csrf-desk"

    tap = await desk.post("/desk/handouts", data=form, follow_redirects=False)
    again = await desk.post("/desk/handouts", data=form, follow_redirects=False)
    assert tap.status_code == again.status_code == 303
    assert tap.headers["location"] == again.headers["location"]
    assert "handed=" in tap.headers["location"]
    assert await food.scalar(
        "SELECT count(*) FROM food_distribution.handout WHERE case_id = :c", c=case["case_id"]
    ) == 1  # fmt: skip

    shown = await desk.get(tap.headers["location"])
    assert "標準を受け渡しました" in shown.text
    assert "tanaka さん" in shown.text

    # A fresh page (new keys) for the same household: refused, and the page says why.
    fresh = await desk.get("/desk", params={"event_id": ev, "case_id": case["case_id"]})
    retry = {**form, "idempotency_key": hidden(fresh.text, "idempotency_key", "standard")}
    refused = await desk.post("/desk/handouts", data=retry)
    assert refused.status_code == 409
    assert "tanaka さんが受け渡し済みです" in refused.text


async def test_forms_without_the_csrf_token_are_refused(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=5)
    case = await food.case(event_id=ev)
    desk = desk_client(food)
    form = {"event_id": ev, "case_id": case["case_id"], "parcel_type": "standard"}
    for csrf in (None, "forged"):
        data = form if csrf is None else {**form, "csrf_token": csrf}
        r = await desk.post("/desk/handouts", data=data)
        assert r.status_code == 403
        assert "CSRF" in r.text
    grant = await desk.post("/desk/eligibility", data={**form, "reason": "r"})
    assert grant.status_code == 403
    assert await food.scalar(
        "SELECT count(*) FROM food_distribution.handout WHERE case_id = :c", c=case["case_id"]
    ) == 0  # fmt: skip


async def test_grant_by_hand_from_the_desk(food: Food) -> None:
    ev = uid("ev")
    await food.stock(ev, standard=5)
    case = await food.case(event_id=ev, concerns=["isolation"])
    desk = desk_client(food, "lead")
    page = await desk.get("/desk", params={"event_id": ev, "case_id": case["case_id"]})
    assert "配布対象ではありません" in page.text
    assert "職員の判断で配布対象にする" in page.text
    form = {"csrf_token": "csrf-desk", "event_id": ev, "case_id": case["case_id"]}

    empty = await desk.post("/desk/eligibility", data={**form, "reason": "  "})
    assert empty.status_code == 422
    assert "理由を入力してください" in empty.text

    r = await desk.post("/desk/eligibility", data={**form, "reason": "本日の食事がない"})
    assert r.status_code == 303
    shown = await desk.get(r.headers["location"])
    assert "配布対象にしました" in shown.text
    assert "lead さんが付与" in shown.text
    assert "本日の食事がない" not in shown.text  # the reason is kept for the record, not shown


async def test_desk_shows_the_event_of_the_staff_members_venue(food: Food) -> None:
    ev = uid("ev")
    venue = uid("venue")
    await food.stock(ev, venue_id=venue, standard=7)
    client = food.client(roles=())
    session = token(food.settings, "tanaka", ["food_desk"], venue_id=venue)
    client.cookies.set(COOKIE_NAME, session)
    page = await client.get("/desk")
    assert page.status_code == 200
    assert f'data-event-id="{ev}"' in page.text
    assert 'data-stock="standard">7<' in page.text


async def test_the_desk_names_the_venue_once_intake_has_named_it(food: Food) -> None:
    ev, venue = uid("ev"), uid("venue")
    # Stock arrived before any case: the desk knows the venue only by its id.
    await food.stock(ev, venue_id=venue, standard=3)
    client = desk_client(food)
    page = await client.get("/desk", params={"event_id": ev})
    assert f"{venue}（{ev}）" in page.text
    # A case from intake names the venue (an older case_created without the name changes nothing).
    await food.case(event_id=ev, venue_id=venue)
    await food.case(event_id=ev, venue_id=venue, venue_name="東川口駅前行政センター")
    await food.case(event_id=ev, venue_id=venue)
    page = await client.get("/desk", params={"event_id": ev})
    assert f"東川口駅前行政センター（{ev}）" in page.text
    events = (await food.client().get("/api/v1/events")).json()
    [listed] = [e for e in events if e["event_id"] == ev]
    assert (listed["venue_id"], listed["venue_name"]) == (venue, "東川口駅前行政センター")
