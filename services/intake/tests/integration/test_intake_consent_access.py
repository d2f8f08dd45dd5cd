"""Consent governs sharing: who may change it, what a withdrawal takes away, earlier visits."""

from __future__ import annotations

import uuid

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
from sqlalchemy import select

from tsunagu.intake.adapters.orm import tables
from tsunagu.intake.domain.access import Principal
from tsunagu.intake.service_layer import referrals, views
from tsunagu.shared.contracts.codes import Programme, StaffRole
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.contracts.intake import ConsentChanged
from tsunagu.shared.contracts.topics import INTAKE_CASE, ROUTING_CASE

pytestmark = pytest.mark.integration


async def _routed(app: App, **routed: object) -> tuple[str, dict[str, str], str]:
    """A case taken in and routed (by us, standing in for routing): id, referral ids, resident."""
    intake = await token(app.client, "uketsuke")
    created = await app.client.post("/api/v1/cases", json=case_body(), headers=intake)
    assert created.status_code == 201, created.text
    case_id, number = created.json()["case_id"], created.json()["case_number"]
    envelope = case_routed(case_id, number, todays_event(), **routed)
    await publish(app.settings.kafka_bootstrap, ROUTING_CASE.name, case_id, envelope)
    wanted = len(envelope.data["referrals"])

    async def arrived() -> bool:
        got = await app.client.get(f"/api/v1/cases/{case_id}", headers=intake)
        return len(got.json()["referrals"]) == wanted

    await eventually(arrived)
    case = (await app.client.get(f"/api/v1/cases/{case_id}", headers=intake)).json()
    ids = {r["programme"]: r["referral_id"] for r in case["referrals"]}
    return case_id, ids, case["resident_id"]


async def test_only_intake_and_coordinators_change_consent_and_each_basis_names_its_source(
    intake_app: App,
) -> None:
    case_id, _, _ = await _routed(intake_app)
    url = f"/api/v1/cases/{case_id}/consent"
    client = intake_app.client
    # Programme members who hold the case may read it but not change who else receives it.
    for member in ("csw_participation", "life_independence"):
        headers = await token(client, member)
        assert (await client.get(f"/api/v1/cases/{case_id}", headers=headers)).status_code == 200
        meeting = {"held_on": "2026-01-10", "reference": "SM-1"}
        body = {"action": "give", "basis": "support_meeting", "meeting": meeting}
        assert (await client.post(url, json=body, headers=headers)).status_code == 403
        assert (
            await client.post(url, json={"action": "withdraw"}, headers=headers)
        ).status_code == 403
    intake = await token(client, "uketsuke")
    # The resident asks to be told the withdrawal was done (notify's one message after it).
    withdrawal = {"action": "withdraw", "confirmation": True}
    withdrawn = await client.post(url, json=withdrawal, headers=intake)
    assert withdrawn.status_code == 200 and withdrawn.json()["changed"]

    # A support meeting without its date and reference, consent without who and how: 422.
    bare = await client.post(
        url, json={"action": "give", "basis": "support_meeting"}, headers=intake
    )
    assert bare.status_code == 422
    assert bare.json()["fields"][0]["loc"][-1] == "meeting"
    no_ref = await client.post(
        url,
        json={"action": "give", "basis": "support_meeting", "meeting": {"held_on": "2026-01-10"}},
        headers=intake,
    )
    assert no_ref.status_code == 422
    anonymous = await client.post(url, json={"action": "give", "basis": "consent"}, headers=intake)
    assert anonymous.status_code == 422
    assert anonymous.json()["fields"][0]["loc"][-1] == "given_by"

    given = await client.post(
        url,
        json={
            "action": "give",
            "basis": "consent",
            "given_by": "legal_representative",
            "given_how": "signed_form",
        },
        headers=intake,
    )
    assert given.status_code == 200, given.text
    coordinator = await token(client, "csw_outreach")  # the CSW coordinates
    met = await client.post(
        url,
        json={
            "action": "give",
            "basis": "support_meeting",
            "meeting": {"held_on": "2026-01-10", "reference": "支援会議 第3回"},
        },
        headers=coordinator,
    )
    assert met.status_code == 200, met.text

    # The event and the audit entry both say who gave consent and how, and which meeting.
    async def all_sent() -> bool:
        events = await read_topic(intake_app.settings.kafka_bootstrap, INTAKE_CASE.name, case_id)
        return len(events) == 4

    await eventually(all_sent)
    events = await read_topic(intake_app.settings.kafka_bootstrap, INTAKE_CASE.name, case_id)
    changes = [ConsentChanged.model_validate(e.data) for e in events[1:]]
    assert [c.consent.basis for c in changes] == ["none", "consent", "support_meeting"]
    assert (changes[1].given_by, changes[1].given_how) == ("legal_representative", "signed_form")
    assert changes[1].meeting is None
    assert changes[2].meeting is not None and changes[2].meeting.reference == "支援会議 第3回"
    assert changes[2].changed_by == "csw_outreach"
    assert [c.confirmation_requested for c in changes] == [True, False, False]
    a = tables.audit_log
    async with intake_app.runtime.sessions() as session:
        entries = (
            await session.execute(
                select(a.c.actor, a.c.action, a.c.detail)
                .where(a.c.case_id == case_id, a.c.action.like("consent.%"))
                .order_by(a.c.audit_id)
            )
        ).all()
    assert [(e.actor, e.action) for e in entries] == [
        ("uketsuke", "consent.withdraw"),
        ("uketsuke", "consent.give"),
        ("csw_outreach", "consent.give"),
    ]
    assert entries[0].detail["confirmation_requested"] is True
    assert "confirmation_requested" not in entries[1].detail
    assert entries[1].detail["given_by"] == "legal_representative"
    assert entries[1].detail["given_how"] == "signed_form"
    assert entries[2].detail["meeting"] == {"held_on": "2026-01-10", "reference": "支援会議 第3回"}
    # The case page's withdrawal form asks whether the resident wants the confirmation.
    page = await client.get(f"/cases/{case_id}", headers=intake)
    assert 'name="confirmation"' in page.text and "撤回の確認を本人に連絡する" in page.text


def _status_changed(case_id: str, referral_id: str, programme: str, status: str, was: str):
    data = {
        "case_id": case_id,
        "case_number": "K-1",
        "referral_id": referral_id,
        "programme": programme,
        "status": status,
        "previous_status": was,
        "by": "uketsuke",
    }
    return Envelope(event_type="referral_status_changed", producer="routing", data=data)


async def test_a_withdrawn_referral_takes_the_case_from_its_programme_at_once(
    intake_app: App,
) -> None:
    case_id, ids, _ = await _routed(intake_app)
    client = intake_app.client
    csw = await token(client, "csw_participation")
    life = await token(client, "life_independence")
    member = Principal(
        "csw_participation",
        frozenset({StaffRole.PROGRAMME}),
        frozenset({Programme.CSW_PARTICIPATION}),
    )
    async with intake_app.runtime.sessions() as session:
        before = await referrals.inbox_rows(session, member)
    assert case_id in {x["case_id"] for x in before}

    withdrawn = _status_changed(
        case_id, ids["csw_participation"], "csw_participation", "withdrawn", "pending"
    )
    await publish(intake_app.settings.kafka_bootstrap, ROUTING_CASE.name, case_id, withdrawn)

    async def gone() -> bool:
        got = await client.get(f"/api/v1/cases/{case_id}", headers=csw)
        return got.status_code == 404

    await eventually(gone)
    listed = (await client.get("/api/v1/cases", headers=csw, params={"page_size": 100})).json()
    assert case_id not in {x["case_id"] for x in listed["items"]}
    async with intake_app.runtime.sessions() as session:
        after = await referrals.inbox_rows(session, member)
    assert case_id not in {x["case_id"] for x in after}
    # The lead keeps it; intake sees the referral as withdrawn.
    assert (await client.get(f"/api/v1/cases/{case_id}", headers=life)).status_code == 200
    intake = await token(client, "uketsuke")
    case = (await client.get(f"/api/v1/cases/{case_id}", headers=intake)).json()
    assert {r["programme"]: r["status"] for r in case["referrals"]} == {
        "life_independence": "pending",
        "csw_participation": "withdrawn",
    }
    # Restored (consent given again): the member has it back.
    restored = _status_changed(
        case_id, ids["csw_participation"], "csw_participation", "pending", "withdrawn"
    )
    await publish(intake_app.settings.kafka_bootstrap, ROUTING_CASE.name, case_id, restored)

    async def back() -> bool:
        return (await client.get(f"/api/v1/cases/{case_id}", headers=csw)).status_code == 200

    await eventually(back)


async def test_earlier_visits_show_only_cases_the_reader_may_open_and_are_audited(
    intake_app: App,
) -> None:
    # The first visit went to life_independence alone; the second to both.
    deadline = None
    first_id, _, resident_id = await _routed(
        intake_app,
        referrals=[
            {
                "referral_id": str(uuid.uuid4()),
                "programme": "life_independence",
                "role": "lead",
                "status": "pending",
                "deadline_at": deadline,
                "reasons": ["concern income_shortfall"],
            }
        ],
    )
    intake = await token(intake_app.client, "uketsuke")
    second = await intake_app.client.post(
        "/api/v1/cases",
        json=case_body(),
        headers=intake,
        params={"resident_id": resident_id},
    )
    assert second.status_code == 201, second.text
    second_id = second.json()["case_id"]
    routed = case_routed(second_id, second.json()["case_number"], todays_event())
    await publish(intake_app.settings.kafka_bootstrap, ROUTING_CASE.name, second_id, routed)

    def programme(p: Programme) -> Principal:
        return Principal(p.value, frozenset({StaffRole.PROGRAMME}), frozenset({p}))

    async def routed_second() -> bool:
        async with intake_app.runtime.sessions() as session:
            return len(await views.referral_statuses(session, second_id)) == 2

    await eventually(routed_second)
    async with intake_app.runtime.sessions() as session, session.begin():
        csw_sees = await views.earlier_visits(
            session, programme(Programme.CSW_PARTICIPATION), resident_id, second_id
        )
        life_sees = await views.earlier_visits(
            session, programme(Programme.LIFE_INDEPENDENCE), resident_id, second_id
        )
        intake_sees = await views.earlier_visits(
            session, Principal("uketsuke", frozenset({StaffRole.INTAKE})), resident_id, second_id
        )
    assert csw_sees == []  # csw_participation gets 404 on the first case, so nothing of it here
    assert [v["case_id"] for v in life_sees] == [first_id]
    assert [v["case_id"] for v in intake_sees] == [first_id]
    a = tables.audit_log
    async with intake_app.runtime.sessions() as session:
        entries = (
            await session.execute(
                select(a.c.actor, a.c.detail).where(
                    a.c.case_id == second_id, a.c.action == "case.earlier_visits"
                )
            )
        ).all()
    assert sorted((e.actor, tuple(e.detail["case_ids"])) for e in entries) == [
        ("life_independence", (first_id,)),
        ("uketsuke", (first_id,)),
    ]
