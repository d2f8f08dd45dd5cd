"""Event planning through the admin pages: change an event, staff its booths, copy it a year on,
and the event day board shows the roster."""

from __future__ import annotations

import re
import uuid
from datetime import date, time, timedelta

import httpx
import pytest
from intake_helpers import App, case_body, today, token

from tsunagu.intake.service_layer import planning
from tsunagu.intake.service_layer import staff as staff_service

pytestmark = pytest.mark.integration


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:300]
    return found[1]


async def event_at_new_venue(app: App, day: date) -> tuple[str, str]:
    venue_id = f"plan-{uuid.uuid4().hex[:8]}"
    async with app.runtime.sessions() as session, session.begin():
        await staff_service.save_venue(session, "test", venue_id, f"会場 {venue_id}", None)
        event_id = await staff_service.create_event(
            session,
            "test",
            venue_id=venue_id,
            event_date=day,
            opens_at=time(10),
            closes_at=time(15),
            programmes=["life_independence", "welfare_fund"],
        )
    return venue_id, event_id


def plan_form(csrf: str, venue_id: str, day: date, **extra: object) -> dict[str, object]:
    return {
        "csrf_token": csrf,
        "event_date": day.isoformat(),
        "venue_id": venue_id,
        "opens_at": "09:30",
        "closes_at": "16:00",
        "capacity": "80",
        "programmes": ["life_independence", "welfare_fund", "csw_participation"],
        "booth.life_independence": "A",
        "roster.life_independence": "life_independence, uketsuke",
        "booth.welfare_fund": "B",
        "roster.welfare_fund": "welfare_fund",
        "planning_notes": "市報12月号に掲載。チラシ300部。",
        **extra,
    }


async def test_an_event_is_planned_changed_and_copied_a_year_on(
    intake_app: App, admin: httpx.AsyncClient
) -> None:
    day = today() + timedelta(days=30)
    venue_id, event_id = await event_at_new_venue(intake_app, day)
    page = await admin.get(f"/admin/events/{event_id}")
    assert page.status_code == 200

    # Hours, capacity, a third programme, booths and rosters, notes; and a new date.
    moved = day + timedelta(days=1)
    saved = await admin.post(
        f"/admin/events/{event_id}", data=plan_form(csrf_of(page), venue_id, moved)
    )
    assert saved.status_code == 303, saved.text[:500]
    new_id = f"{moved:%Y%m%d}-{venue_id}"
    assert saved.headers["location"] == f"/admin/events/{new_id}?saved=true"
    async with intake_app.runtime.sessions() as session:
        plan = await planning.get_plan(session, new_id)
        assert await staff_service.get_event(session, event_id) is None
    assert (plan["opens_at"], plan["closes_at"], plan["capacity"]) == (time(9, 30), time(16), 80)
    assert plan["programmes"] == ["csw_participation", "life_independence", "welfare_fund"]
    assert plan["booths"] == {
        "life_independence": {"booth": "A", "roster": ["life_independence", "uketsuke"]},
        "welfare_fund": {"booth": "B", "roster": ["welfare_fund"]},
    }
    assert plan["planning_notes"] == "市報12月号に掲載。チラシ300部。"

    # Copy it to the same weekday next year: everything but the date comes along.
    page = await admin.get(f"/admin/events/{new_id}")
    next_year = planning.same_weekday_next_year(moved)
    assert next_year.weekday() == moved.weekday()
    assert f'value="{next_year.isoformat()}"' in page.text
    copied = await admin.post(
        f"/admin/events/{new_id}/copy",
        data={"csrf_token": csrf_of(page), "to_date": next_year.isoformat()},
    )
    assert copied.status_code == 303
    copy_id = f"{next_year:%Y%m%d}-{venue_id}"
    async with intake_app.runtime.sessions() as session:
        copy = await planning.get_plan(session, copy_id)
    assert copy["booths"] == plan["booths"]
    assert (copy["capacity"], copy["programmes"]) == (80, plan["programmes"])
    # Copying onto the same day again is refused, in Japanese, and loses nothing.
    again = await admin.post(
        f"/admin/events/{new_id}/copy",
        data={"csrf_token": csrf_of(page), "to_date": next_year.isoformat()},
    )
    assert again.status_code == 409
    assert "この会場のこの日の相談会は既にあります" in again.text


async def test_bad_plans_are_refused_naming_the_problem(
    intake_app: App, admin: httpx.AsyncClient
) -> None:
    day = today() + timedelta(days=40)
    venue_id, event_id = await event_at_new_venue(intake_app, day)
    page = await admin.get(f"/admin/events/{event_id}")
    csrf = csrf_of(page)
    cases = [
        ({"roster.welfare_fund": "nobody-here"}, "職員が見つかりません: nobody-here"),
        ({"closes_at": "09:00"}, "終了時刻は開始時刻より後にしてください"),
        ({"capacity": "many"}, "定員は数で入力してください"),
        ({"programmes": []}, "参加する窓口を1つ以上選んでください"),
    ]
    for change, message in cases:
        response = await admin.post(
            f"/admin/events/{event_id}", data=plan_form(csrf, venue_id, day, **change)
        )
        assert response.status_code == 422, change
        assert message in response.text
    async with intake_app.runtime.sessions() as session:
        plan = await planning.get_plan(session, event_id)
    assert plan["booths"] == {} and plan["capacity"] is None  # nothing half-saved


async def test_date_and_venue_stay_once_residents_were_taken_in(
    intake_app: App, admin: httpx.AsyncClient
) -> None:
    venue_id, event_id = await event_at_new_venue(intake_app, today())
    body = case_body()
    body["event_id"] = event_id
    created = await intake_app.client.post(
        "/api/v1/cases", json=body, headers=await token(intake_app.client, "uketsuke")
    )
    assert created.status_code == 201
    page = await admin.get(f"/admin/events/{event_id}")
    moved = await admin.post(
        f"/admin/events/{event_id}",
        data=plan_form(csrf_of(page), venue_id, today() + timedelta(days=1)),
    )
    assert moved.status_code == 409
    assert "受付済みの相談があるため" in moved.text
    # The rest of the plan still changes; the board shows the roster.
    kept = await admin.post(
        f"/admin/events/{event_id}", data=plan_form(csrf_of(page), venue_id, today())
    )
    assert kept.status_code == 303
    board = await admin.get("/board", params={"event_id": event_id})
    assert board.status_code == 200
    assert "ブースと担当者" in board.text
    assert "生活自立サポートセンター" in board.text
    assert "生活福祉資金" in board.text and "受付 担当" in board.text


async def test_only_admins_plan(intake_app: App) -> None:
    _, event_id = await event_at_new_venue(intake_app, today() + timedelta(days=50))
    for username in ("uketsuke", "manager"):
        headers = await token(intake_app.client, username)
        page = await intake_app.client.get(f"/admin/events/{event_id}", headers=headers)
        assert page.status_code == 403, username


async def test_a_venues_access_note_reaches_the_residents_page(
    intake_app: App, admin: httpx.AsyncClient
) -> None:
    venue_id = f"acc-{uuid.uuid4().hex[:8]}"
    page = await admin.get("/admin")
    saved = await admin.post(
        "/admin/venues",
        data={
            "csrf_token": csrf_of(page),
            "venue_id": venue_id,
            "name": "公民館",
            "address": "埼玉県川口市",
            "access": "駅から徒歩5分。段差はありません",
        },
    )
    assert saved.status_code == 303
    async with intake_app.runtime.sessions() as session, session.begin():
        await staff_service.create_event(
            session,
            "test",
            venue_id=venue_id,
            event_date=today() + timedelta(days=2),
            opens_at=time(10),
            closes_at=time(12),
            programmes=["life_independence"],
        )
    residents = await intake_app.client.get("/events")
    assert "駅から徒歩5分。段差はありません" in residents.text


async def _venue(app: App, venue_id: str) -> dict[str, object] | None:
    async with app.runtime.sessions() as session:
        venues = await staff_service.list_venues(session)
    return next((v for v in venues if v["venue_id"] == venue_id), None)


async def test_a_venues_reading_is_saved_in_hiragana_and_changed_from_its_edit_link(
    intake_app: App, admin: httpx.AsyncClient
) -> None:
    venue_id = f"kana-{uuid.uuid4().hex[:8]}"
    page = await admin.get("/admin")
    saved = await admin.post(
        "/admin/venues",
        data={
            "csrf_token": csrf_of(page),
            "venue_id": venue_id,
            "name": "川口市民会館",
            "name_kana": "ｶﾜｸﾞﾁ シミン　かいかん",  # half-width, katakana, a full-width space
            "address": "埼玉県川口市",
            "access": "駅から徒歩5分",
        },
    )
    assert saved.status_code == 303, saved.text[:500]
    venue = await _venue(intake_app, venue_id)
    assert venue is not None and venue["name_kana"] == "かわぐち しみん かいかん"

    # The edit link fills the form with the venue as saved: the reading can be changed
    # without typing the rest again.
    listing = await admin.get("/admin")
    assert f'href="/admin?venue={venue_id}#venue-form"' in listing.text
    edit = await admin.get("/admin", params={"venue": venue_id})
    assert edit.status_code == 200
    form = edit.text[edit.text.index('id="venue-form"') :]
    for value in (
        venue_id,
        "川口市民会館",
        "かわぐち しみん かいかん",
        "埼玉県川口市",
        "駅から徒歩5分",
    ):
        assert f'value="{value}"' in form, value
    changed = await admin.post(
        "/admin/venues",
        data={
            "csrf_token": csrf_of(edit),
            "venue_id": venue_id,
            "name": "川口市民会館",
            "name_kana": "かわぐちしみんかいかん",
            "address": "埼玉県川口市",
            "access": "駅から徒歩5分",
        },
    )
    assert changed.status_code == 303
    venue = await _venue(intake_app, venue_id)
    assert venue is not None
    assert (venue["name_kana"], venue["address"], venue["access"]) == (
        "かわぐちしみんかいかん",
        "埼玉県川口市",
        "駅から徒歩5分",
    )

    # Left blank, the reading is taken off.
    cleared = await admin.post(
        "/admin/venues",
        data={"csrf_token": csrf_of(edit), "venue_id": venue_id, "name": "川口市民会館"},
    )
    assert cleared.status_code == 303
    venue = await _venue(intake_app, venue_id)
    assert venue is not None and venue["name_kana"] is None


async def test_a_reading_that_is_not_hiragana_is_refused_and_the_form_keeps_what_was_typed(
    intake_app: App, admin: httpx.AsyncClient
) -> None:
    venue_id = f"kana-{uuid.uuid4().hex[:8]}"
    page = await admin.get("/admin")
    typed = {
        "venue_id": venue_id,
        "name": "東川口公民館",
        "name_kana": "東川口こうみんかん",
        "address": "埼玉県川口市東川口",
        "access": "東川口駅から徒歩3分",
    }
    refused = await admin.post("/admin/venues", data={"csrf_token": csrf_of(page), **typed})
    assert refused.status_code == 422
    assert "会場名のよみがなは、ひらがなで入力してください" in refused.text
    assert 'aria-invalid="true"' in refused.text
    form = refused.text[refused.text.index('id="venue-form"') :]
    for name, value in typed.items():
        assert f'name="{name}"' in form and f'value="{value}"' in form, name
    assert await _venue(intake_app, venue_id) is None  # nothing saved

    # A reading refused for an existing venue changes nothing of it either.
    await admin.post(
        "/admin/venues",
        data={"csrf_token": csrf_of(page), **typed, "name_kana": "ひがしかわぐちこうみんかん"},
    )
    too_long = await admin.post(
        "/admin/venues",
        data={"csrf_token": csrf_of(page), **typed, "name": "別の名前", "name_kana": "あ" * 101},
    )
    assert too_long.status_code == 422
    assert "会場名のよみがなは100文字以内で入力してください" in too_long.text
    assert 'value="別の名前"' in too_long.text
    venue = await _venue(intake_app, venue_id)
    assert venue is not None
    assert (venue["name"], venue["name_kana"]) == ("東川口公民館", "ひがしかわぐちこうみんかん")
