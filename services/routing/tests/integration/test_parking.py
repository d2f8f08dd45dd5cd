"""Events about a case routing has not routed yet are parked, not dead-lettered, and applied
when the case arrives; an older event arriving late never overwrites newer state (ADR 10).
On a real broker and database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from routing_testkit import (
    Tap,
    case_created,
    case_updated,
    consent_changed,
    decision_of,
    new_case_id,
    publish,
    referral_requested,
    referrals_of,
    settle,
)
from sqlalchemy import func, select

from tsunagu.routing.bootstrap import RoutingRuntime
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.envelope import Envelope, utcnow
from tsunagu.shared.contracts.topics import ROUTING_FOOD

pytestmark = pytest.mark.integration


async def parked(runtime: RoutingRuntime, case_id: str) -> list[str]:
    p = runtime.tables.parked_event
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(p.c.event_type).where(p.c.case_id == case_id).order_by(p.c.event_type)
        )
        return list(rows.scalars())


async def history(runtime: RoutingRuntime, case_id: str) -> list[tuple[str, str, str]]:
    h = runtime.tables.referral_status_change
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(h.c.programme, h.c.action, h.c.to_status)
            .where(h.c.case_id == case_id)
            .order_by(h.c.programme, h.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def shape(referrals: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    return {r["programme"]: (r["role"], r["status"]) for r in referrals}


def stream(case_id: str) -> list[Envelope]:
    """A case taken in without a sharing basis, then (in the order intake made them) consent
    given, its facts corrected to add a need, and one more programme asked for by staff."""
    return [
        case_created(
            ["income_shortfall", "isolation"],
            most_pressing="isolation",
            basis="none",
            case_id=case_id,
        ),
        consent_changed(case_id, "consent", previous="none"),
        case_updated(
            case_id, ["income_shortfall", "isolation", "disability"], most_pressing="isolation"
        ),
        referral_requested(case_id, "adult_guardianship"),
    ]


async def test_events_before_their_case_are_parked_then_applied_as_if_in_order(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    runtime = await start_runtime()
    # The same stream twice: in order for one case, and with case_created last (dead-lettered
    # and replayed, or simply behind on its topic) for the other.
    in_order, late = new_case_id(), new_case_id()
    for envelope in stream(in_order):  # each applied before the next (two topics)
        await publish(producer, envelope)
        await settle(runtime, tap, group)
    created, *after = stream(late)
    for envelope in after:
        await publish(producer, envelope)
    await settle(runtime, tap, group)

    # Handled (committed past), not dead-lettered, not applied: parked.
    assert await decision_of(runtime, late) is None
    assert not tap.find(late)
    assert await parked(runtime, late) == ["case_updated", "consent_changed", "referral_requested"]

    await publish(producer, created)
    await settle(runtime, tap, group)
    assert await parked(runtime, late) == []
    assert not [r for r in tap.find([in_order, late]) if r.topic.endswith(".dlq")]

    expected, got = await decision_of(runtime, in_order), await decision_of(runtime, late)
    assert expected is not None and got is not None
    assert got["sharing_basis"] == expected["sharing_basis"] == "consent"
    assert got["facts"] == expected["facts"]
    assert "disability" in got["facts"]["concerns"]
    want = shape(await referrals_of(runtime, in_order))
    assert want["adult_guardianship"] == ("member", "pending")
    assert want["disability_support"][1] == "pending"
    assert shape(await referrals_of(runtime, late)) == want
    assert await history(runtime, late) == await history(runtime, in_order)
    # What the programmes and intake hear is the same too (one case_routed, then the rest).
    published = [r.event_type for r in tap.find(late) if r.topic == "routing.case.v1"]
    assert published[0] == "case_routed"
    assert sorted(published) == sorted(
        r.event_type for r in tap.find(in_order) if r.topic == "routing.case.v1"
    )
    assert sorted(r.topic for r in tap.find(late) if r.event_type == "referral_created") == sorted(
        r.topic for r in tap.find(in_order) if r.event_type == "referral_created"
    )


async def test_an_older_event_arriving_late_changes_nothing(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    runtime = await start_runtime()
    case = case_created(["income_shortfall", "isolation"], most_pressing="isolation")
    case_id = case.data["case_id"]
    made = case.occurred_at
    # A withdrawal and a correction made before what routing holds (replayed dead letters).
    stale_consent = consent_changed(case_id, "none", previous="consent").model_copy(
        update={"occurred_at": made - timedelta(minutes=5)}
    )
    newer = case_updated(
        case_id, ["income_shortfall", "isolation", "disability"], most_pressing="isolation"
    )
    stale_facts = case_updated(
        case_id, ["dementia_money"], most_pressing="dementia_money"
    ).model_copy(update={"occurred_at": newer.occurred_at - timedelta(seconds=1)})
    for envelope in (case, newer, stale_consent, stale_facts):
        await publish(producer, envelope)
    await settle(runtime, tap, group)

    decision = await decision_of(runtime, case_id)
    assert decision is not None
    assert decision["sharing_basis"] == "consent" and decision["consent_withdrawn_at"] is None
    assert decision["consent_changed_at"] == made
    assert decision["facts"]["concerns"] == ["income_shortfall", "isolation", "disability"]
    assert decision["facts_changed_at"] == newer.occurred_at
    assert len(tap.find(case_id, event_type="case_rerouted")) == 1
    assert not tap.find(case_id, event_type="consent_withdrawn")
    assert "adult_guardianship" not in shape(await referrals_of(runtime, case_id))
    assert not [r for r in tap.find(case_id) if r.topic.endswith(".dlq")]


async def test_events_parked_for_a_case_never_routed_stay_parked_and_hold_nothing_up(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    """Its case_created never comes (poison, dead-lettered and not replayed yet): the partition
    flows on, and the events wait for it."""
    runtime = await start_runtime()
    never = new_case_id()
    await publish(producer, consent_changed(never, "consent", previous="none"))
    after = case_created(["isolation"])
    await publish(producer, after)
    await tap.wait_for(after.data["case_id"], 1, event_type="case_routed")
    await settle(runtime, tap, group)
    assert await parked(runtime, never) == ["consent_changed"]
    p = runtime.tables.parked_event
    async with runtime.sessions() as session:
        count = await session.execute(select(func.count()).where(p.c.case_id == never))
    assert count.scalar_one() == 1
    assert not tap.find(never)


async def test_an_erasure_drops_what_was_parked_for_the_case(
    start_runtime, producer, tap: Tap, group: str
) -> None:
    runtime = await start_runtime()
    case = case_created(["isolation"], basis="none")
    case_id = case.data["case_id"]
    await publish(producer, consent_changed(case_id, "consent", previous="none"))
    await settle(runtime, tap, group)
    assert await parked(runtime, case_id) == ["consent_changed"]
    erased = intake.ResidentErased(
        case_id=case_id, resident_id=case.data["resident_id"], erased_at=utcnow(), basis="request"
    )
    await publish(
        producer,
        Envelope(
            event_type=intake.RESIDENT_ERASED,
            producer="intake",
            data=erased.model_dump(mode="json"),
        ),
    )
    await publish(producer, case)  # a replay after the erasure: ignored, nothing applied
    await settle(runtime, tap, group)
    assert await parked(runtime, case_id) == []
    assert await decision_of(runtime, case_id) is None
    # Nothing is routed; the erasure alone goes on, to the food desk's topic (ADR 24).
    [forwarded] = tap.find(case_id)
    assert (forwarded.topic, forwarded.envelope.event_type) == (
        ROUTING_FOOD.name,
        intake.RESIDENT_ERASED,
    )
    assert forwarded.data == erased.model_dump(mode="json")
    assert forwarded.envelope.schema_version == 1  # intake's contract, forwarded unchanged
