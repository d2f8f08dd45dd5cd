"""After a decline: the case shows why and what routing suggests, and offers to refer there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from intake_helpers import (
    App,
    case_body,
    case_routed,
    eventually,
    publish,
    read_topic,
    todays_event,
    token,
)
from sqlalchemy import text
from test_intake_pages import csrf_of, log_in

from tsunagu.intake.service_layer.keys import KeyStore, master_keys
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.intake import REFERRAL_REQUESTED, ReferralRequested
from tsunagu.shared.contracts.routing import REFERRAL_STATUS_CHANGED, ReferralStatusChanged
from tsunagu.shared.contracts.topics import INTAKE_REFERRAL_RESPONSE, ROUTING_CASE

pytestmark = pytest.mark.integration


@pytest.fixture
async def browser(intake_app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=intake_app.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://intake.test", headers={"Accept": "text/html"}
    ) as client:
        yield client


async def test_after_a_decline_the_case_page_refers_to_the_suggested_programme(
    intake_app: App, browser: httpx.AsyncClient
) -> None:
    api = await token(intake_app.client, "uketsuke")
    created = (await intake_app.client.post("/api/v1/cases", json=case_body(), headers=api)).json()
    case_id, number = created["case_id"], created["case_number"]
    routed = case_routed(case_id, number, todays_event())
    bootstrap = intake_app.settings.kafka_bootstrap
    await publish(bootstrap, ROUTING_CASE.name, case_id, routed)
    member = next(r for r in routed.data["referrals"] if r["programme"] == "csw_participation")
    declined = ReferralStatusChanged(
        case_id=case_id,
        case_number=number,
        referral_id=member["referral_id"],
        programme="csw_participation",
        status="declined",
        previous_status="pending",
        by="csw-staff",
        reason="対象外のため",
        suggested_next="csw_outreach",
        allowed_actions=[],
    )
    envelope = Envelope(
        event_type=REFERRAL_STATUS_CHANGED,
        producer="routing",
        data=declined.model_dump(mode="json"),
    )
    await publish(bootstrap, ROUTING_CASE.name, case_id, envelope)

    async def declined_shown() -> bool:
        view = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=api)).json()
        return any(r["status"] == "declined" for r in view.get("referrals", []))

    await eventually(declined_shown)
    view = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=api)).json()
    [row] = [r for r in view["referrals"] if r["programme"] == "csw_participation"]
    assert (row["reason"], row["suggested_next"]) == ("対象外のため", "csw_outreach")

    assert (await log_in(browser, "uketsuke")).status_code == 303
    page = await browser.get(f"/cases/{case_id}")
    assert (
        "提案の窓口に紹介する（CSW アウトリーチ" in page.text or "提案の窓口に紹介する" in page.text
    )
    assert "紹介を追加" in page.text
    chosen = await browser.post(
        f"/cases/{case_id}/referrals",
        data={
            "csrf_token": csrf_of(page),
            "programme": "csw_outreach",
            "after_referral_id": member["referral_id"],
        },
    )
    assert chosen.status_code == 303

    async def requested() -> bool:
        events = await read_topic(bootstrap, INTAKE_REFERRAL_RESPONSE.name, key=case_id)
        return any(e.event_type == REFERRAL_REQUESTED for e in events)

    await eventually(requested)
    [event] = [
        e
        for e in await read_topic(bootstrap, INTAKE_REFERRAL_RESPONSE.name, key=case_id)
        if e.event_type == REFERRAL_REQUESTED
    ]
    data = ReferralRequested.model_validate(event.data)
    assert (data.programme, data.after_referral_id, data.requested_by) == (
        "csw_outreach",
        member["referral_id"],
        "uketsuke",
    )

    # A programme the case already has: refused, nothing asked of routing.
    again = await intake_app.client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"programme": "life_independence"},
        headers=api,
    )
    assert again.status_code == 409
    # A programme member cannot add referrals.
    member_token = await token(intake_app.client, "life_independence")
    refused = await intake_app.client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"programme": "welfare_fund"},
        headers=member_token,
    )
    assert refused.status_code == 403


async def test_a_decline_sends_its_reason_code_and_shows_it(intake_app: App) -> None:
    from tsunagu.shared.contracts.intake import (
        REFERRAL_RESPONSE_SUBMITTED,
        ReferralResponseSubmitted,
    )

    api = await token(intake_app.client, "uketsuke")
    created = (await intake_app.client.post("/api/v1/cases", json=case_body(), headers=api)).json()
    case_id, number = created["case_id"], created["case_number"]
    routed = case_routed(case_id, number, todays_event())
    bootstrap = intake_app.settings.kafka_bootstrap
    await publish(bootstrap, ROUTING_CASE.name, case_id, routed)
    member = next(r for r in routed.data["referrals"] if r["programme"] == "csw_participation")
    team = await token(intake_app.client, "csw_participation")

    async def arrived() -> bool:
        view = await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=team)
        return view.status_code == 200 and bool(view.json().get("referrals"))

    await eventually(arrived)
    # A code alone is enough: its label becomes the text routing's lifecycle asks for.
    sent = await intake_app.client.post(
        f"/api/v1/referrals/{member['referral_id']}/respond",
        json={"action": "decline", "reason_code": "unreachable"},
        headers=team,
    )
    assert sent.status_code == 202, sent.text

    async def submitted() -> bool:
        events = await read_topic(bootstrap, INTAKE_REFERRAL_RESPONSE.name, key=case_id)
        return any(e.event_type == REFERRAL_RESPONSE_SUBMITTED for e in events)

    await eventually(submitted)
    [event] = [
        e
        for e in await read_topic(bootstrap, INTAKE_REFERRAL_RESPONSE.name, key=case_id)
        if e.event_type == REFERRAL_RESPONSE_SUBMITTED
    ]
    data = ReferralResponseSubmitted.model_validate(event.data)
    assert (data.reason_code, data.reason) == ("unreachable", "本人と連絡がつかない")

    confirmed = ReferralStatusChanged(
        case_id=case_id,
        case_number=number,
        referral_id=member["referral_id"],
        programme="csw_participation",
        status="declined",
        previous_status="pending",
        by="csw-staff",
        reason=data.reason,
        reason_code="unreachable",
        suggested_next="csw_outreach",
        allowed_actions=[],
    )
    envelope = Envelope(
        event_type=REFERRAL_STATUS_CHANGED,
        producer="routing",
        data=confirmed.model_dump(mode="json"),
    )
    await publish(bootstrap, ROUTING_CASE.name, case_id, envelope)

    async def shown() -> bool:
        view = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=api)).json()
        return any(r.get("reason_code") == "unreachable" for r in view.get("referrals", []))

    await eventually(shown)


async def test_staff_words_on_a_decline_travel_sealed_and_show_on_the_case(
    intake_app: App, browser: httpx.AsyncClient
) -> None:
    """Staff's free text may name the resident: it leaves intake sealed with the resident's
    record key (the code stays readable for reports), comes back sealed through routing, and
    intake opens it to show the case."""
    from tsunagu.shared.contracts.intake import (
        REFERRAL_RESPONSE_SUBMITTED,
        ReferralResponseSubmitted,
    )

    words = "長男の借入れが判明し本人が整理を先にしたいと希望"
    api = await token(intake_app.client, "uketsuke")
    created = (await intake_app.client.post("/api/v1/cases", json=case_body(), headers=api)).json()
    case_id, number = created["case_id"], created["case_number"]
    resident_id = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=api)).json()[
        "resident_id"
    ]
    routed = case_routed(case_id, number, todays_event())
    bootstrap = intake_app.settings.kafka_bootstrap
    await publish(bootstrap, ROUTING_CASE.name, case_id, routed)
    member = next(r for r in routed.data["referrals"] if r["programme"] == "csw_participation")
    team = await token(intake_app.client, "csw_participation")

    async def arrived() -> bool:
        view = await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=team)
        return view.status_code == 200 and bool(view.json().get("referrals"))

    await eventually(arrived)
    sent = await intake_app.client.post(
        f"/api/v1/referrals/{member['referral_id']}/respond",
        json={"action": "decline", "reason_code": "resident_declined", "reason": words},
        headers=team,
    )
    assert sent.status_code == 202, sent.text

    async def submitted() -> list[Envelope]:
        events = await read_topic(bootstrap, INTAKE_REFERRAL_RESPONSE.name, key=case_id)
        return [e for e in events if e.event_type == REFERRAL_RESPONSE_SUBMITTED]

    await eventually(submitted)
    [event] = await submitted()
    assert words not in event.to_bytes().decode()
    data = ReferralResponseSubmitted.model_validate(event.data)
    # The code and its label stay readable; the words are sealed for this resident.
    assert (data.reason_code, data.reason) == ("resident_declined", "本人が支援を希望しない")
    assert data.reason_sealed is not None
    assert data.reason_sealed.startswith(f"rk1:{resident_id}:record:")
    keys = KeyStore(master_keys(intake_app.settings))
    async with intake_app.runtime.sessions() as session:
        assert await keys.open(session, data.reason_sealed) == words

    confirmed = ReferralStatusChanged(
        case_id=case_id,
        case_number=number,
        referral_id=member["referral_id"],
        programme="csw_participation",
        status="declined",
        previous_status="pending",
        by="csw-staff",
        reason=data.reason,
        reason_sealed=data.reason_sealed,
        reason_code="resident_declined",
        suggested_next="csw_outreach",
        allowed_actions=[],
    )
    envelope = Envelope(
        event_type=REFERRAL_STATUS_CHANGED,
        producer="routing",
        data=confirmed.model_dump(mode="json"),
    )
    await publish(bootstrap, ROUTING_CASE.name, case_id, envelope)

    async def declined() -> list[dict[str, Any]]:
        view = (await intake_app.client.get(f"/api/v1/cases/{case_id}", headers=api)).json()
        return [r for r in view["referrals"] if r["status"] == "declined"]

    async def shown() -> bool:
        return bool(await declined())

    await eventually(shown)
    [row] = await declined()
    assert (row["reason"], row["reason_code"]) == (words, "resident_declined")
    # Intake's read model keeps the sealed value only.
    async with intake_app.runtime.sessions() as session:
        stored = await session.scalar(
            text("SELECT last_reason FROM intake.referral WHERE referral_id = :r"),
            {"r": member["referral_id"]},
        )
    assert stored == data.reason_sealed
    assert (await log_in(browser, "uketsuke")).status_code == 303
    assert words in (await browser.get(f"/cases/{case_id}")).text
