"""A consent withdrawal reaches notify: the resident is contacted no further, and programme
members see deliveries only of the cases their programme holds (routing's statuses)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tsunagu.notify.bootstrap import NotifyRuntime, build_app
from tsunagu.notify.domain.quiet_hours import TOKYO
from tsunagu.shared.auth import Principal, issue_token
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.topics import INTAKE_CONTACT, ROUTING_NOTIFY

from .conftest import TestClock, eventually, publish
from .events import case_created, case_routed, new_case, referral_status_changed

pytestmark = pytest.mark.integration

DAY = datetime(2025, 6, 3, 10, 0, tzinfo=TOKYO)


def member_of(runtime: NotifyRuntime, programme: str) -> httpx.AsyncClient:
    principal = Principal(
        username=programme, roles=frozenset({"programme"}), programmes=frozenset({programme})
    )
    token = issue_token(principal, runtime.settings.signing_key(), 3600)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=build_app(runtime.settings, runtime)),
        base_url="http://notify.test",
        headers={"Authorization": f"Bearer {token}"},
    )


async def deliveries_of(runtime: NotifyRuntime, case_id: str) -> list[dict[str, Any]]:
    d = runtime.tables.delivery
    async with runtime.sessions() as session:
        rows = await session.execute(select(d).where(d.c.case_id == case_id))
    return [dict(r._mapping) for r in rows]


def consent_withdrawn(case_id: str, *, confirmation: bool = False) -> Envelope:
    data = intake.ContactConsentChanged(
        case_id=case_id,
        consent=intake.Consent(
            share_across_programmes=False, basis="none", contact_channels=["email"]
        ),
        previous_basis="consent",
        confirmation_requested=confirmation,
    )
    return Envelope(
        event_type=intake.CONTACT_CONSENT_CHANGED,
        producer="intake",
        data=data.model_dump(mode="json"),
    )


async def test_programme_members_see_only_deliveries_of_cases_their_programme_holds(
    start_notify, settings, smtp, producer
):
    runtime = await start_notify(TestClock(DAY), smtp_port=smtp.port)
    case_id, number = new_case()
    email = f"{case_id}@resident.example.jp"
    created = case_created(settings, case_id, number, channels=["email"], email=email)
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    await publish(producer, ROUTING_NOTIFY.name, case_routed(case_id, number), case_id)
    member = referral_status_changed(case_id, number, "pending", programme="csw_participation")
    await publish(producer, ROUTING_NOTIFY.name, member, case_id)

    async def acknowledged() -> list[dict[str, Any]] | None:
        rows = await deliveries_of(runtime, case_id)
        return rows or None

    await eventually(acknowledged)

    async def listed(programme: str) -> set[str]:
        async with member_of(runtime, programme) as client:
            response = await client.get("/api/v1/deliveries", params={"limit": 500})
            assert response.status_code == 200, response.text
            return {r["case_id"] for r in response.json()}

    async def csw_holds() -> bool:
        return case_id in await listed("csw_participation")

    await eventually(csw_holds)
    assert case_id in await listed("life_independence")
    assert case_id not in await listed("welfare_fund")  # never referred

    # Consent withdrawn: routing withdraws csw_participation's referral; its members lose the
    # case's deliveries at once, the lead keeps them.
    withdrawn = referral_status_changed(case_id, number, "withdrawn", programme="csw_participation")
    await publish(producer, ROUTING_NOTIFY.name, withdrawn, case_id)

    async def csw_lost() -> bool:
        return case_id not in await listed("csw_participation")

    await eventually(csw_lost)
    assert case_id in await listed("life_independence")
    async with member_of(runtime, "csw_participation") as client:
        failures = await client.get("/api/v1/deliveries/failures")
        assert case_id not in {r["case_id"] for r in failures.json()}


async def test_after_a_withdrawal_the_resident_is_contacted_no_further(
    start_notify, settings, smtp, producer
):
    runtime = await start_notify(TestClock(DAY), smtp_port=smtp.port)
    case_id, number = new_case()
    email = f"{case_id}@resident.example.jp"
    created = case_created(settings, case_id, number, channels=["email"], email=email)
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    await publish(producer, INTAKE_CONTACT.name, consent_withdrawn(case_id), case_id)

    async def withdrawn_held() -> bool:
        t = runtime.tables.case_contact
        async with runtime.sessions() as session:
            at = await session.scalar(
                select(t.c.consent_withdrawn_at).where(t.c.case_id == case_id)
            )
        return at is not None

    await eventually(withdrawn_held)
    # The lead accepts afterwards: the resident would be told; after the withdrawal, not.
    accepted = referral_status_changed(case_id, number, "accepted")
    await publish(producer, ROUTING_NOTIFY.name, accepted, case_id)

    async def decided() -> list[dict[str, Any]] | None:
        rows = [
            r for r in await deliveries_of(runtime, case_id) if r["recipient_kind"] == "resident"
        ]
        return rows or None

    rows = await eventually(decided)
    assert {(r["template"], r["status"], r["reason"]) for r in rows} == {
        ("programme_accepted", "suppressed", "consent_withdrawn")
    }
    assert smtp.mails(to=email) == []


async def test_a_resident_who_asked_for_it_gets_the_confirmation_of_the_withdrawal_and_nothing_more(
    start_notify, settings, smtp, producer
):
    """Issue 15: the resident is contacted no further, apart from the confirmation they asked
    for: one mail confirming the withdrawal; the acceptance afterwards is suppressed."""
    runtime = await start_notify(TestClock(DAY), smtp_port=smtp.port)
    case_id, number = new_case()
    email = f"{case_id}@resident.example.jp"
    created = case_created(settings, case_id, number, channels=["email"], email=email)
    await publish(producer, INTAKE_CONTACT.name, created, case_id)
    withdrawn = consent_withdrawn(case_id, confirmation=True)
    await publish(producer, INTAKE_CONTACT.name, withdrawn, case_id)

    async def confirmed() -> list[Any] | None:
        return smtp.mails(to=email) or None

    [mail] = await eventually(confirmed)
    assert "同意の撤回を承りました" in mail.subject
    assert number in mail.text and "山田 花子" in mail.text

    accepted = referral_status_changed(case_id, number, "accepted")
    await publish(producer, ROUTING_NOTIFY.name, accepted, case_id)

    async def decided() -> list[dict[str, Any]] | None:
        rows = [
            r for r in await deliveries_of(runtime, case_id) if r["recipient_kind"] == "resident"
        ]
        return rows if len(rows) == 2 else None

    rows = await eventually(decided)
    assert {(r["template"], r["status"], r["reason"]) for r in rows} == {
        ("withdrawal_confirmed", "sent", None),
        ("programme_accepted", "suppressed", "consent_withdrawn"),
    }
    assert len(smtp.mails(to=email)) == 1
