"""Test helpers for food distribution: the app under test, tokens, cases and stock."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tsunagu.food_distribution.bootstrap import build_app
from tsunagu.food_distribution.config import FoodConfig
from tsunagu.food_distribution.service_layer import cases, privacy
from tsunagu.shared import testing
from tsunagu.shared.auth import Principal, issue_token
from tsunagu.shared.clock import japan_today
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.crypto import KeySource, LocalKeys, Purpose
from tsunagu.shared.runtime import ServiceRuntime
from tsunagu.shared.settings import Settings
from tsunagu.shared.testing import eventually as eventually  # the tests import it from here


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


#: A food desk member, and the food desk lead, who also runs the stock.
DESK = ("food_desk",)
LEAD = ("food_desk", "food_desk_lead")


def token(
    settings: Settings, username: str = "food", roles: Iterable[str] = DESK, **kw: Any
) -> str:
    principal = Principal(username=username, roles=frozenset(roles), **kw)
    return issue_token(principal, settings.signing_key(), 3600)


def bearer(settings: Settings, username: str = "food", roles: Iterable[str] = DESK):
    return {"Authorization": f"Bearer {token(settings, username, roles)}"}


#: Residents' keys as intake would hold them (the food app under test opens with these).
KEYS = LocalKeys()


def case_routed(
    settings: Settings,
    *,
    eligible: bool = True,
    case_id: str | None = None,
    household_id: str | None = None,
    event_id: str = "ev-test",
    venue_id: str = "venue-aeon",
    venue_name: str | None = None,
    case_number: str | None = None,
    name_kana: str | None = "ヤマダ ハナコ",
    rule_version: str = "2026.1",
    event_date: date | None = None,
    without_event_date: bool = False,
) -> Envelope:
    """A ``food_case_routed`` as routing publishes it on ``routing.food.v1``: intake's household,
    event and furigana (sealed with the resident's ``kana`` key, as intake sealed it) and rule
    9's decision; no concern, reason, age or flag. The event is held on ``event_date`` (the
    session's day unless given); ``without_event_date``: as routing wrote it before it carried
    the event's day."""
    case_id = case_id or uid("case")
    resident_id = uid("res")
    kana_sealed = None if name_kana is None else KEYS.seal(resident_id, Purpose.KANA, name_kana)
    return Envelope(
        event_type="food_case_routed",
        producer="routing",
        schema_version=2,
        data={
            "case_id": case_id,
            "case_number": case_number or "K-" + uuid.uuid4().hex[:6].upper(),
            "event_id": event_id,
            "venue_id": venue_id,
            "venue_name": venue_name,
            "household_id": household_id or uid("hh"),
            "created_at": datetime.now(UTC).isoformat(),
            **(
                {}
                if without_event_date
                else {"event_date": (event_date or japan_today()).isoformat()}
            ),
            "kana_sealed": kana_sealed,
            "food_parcel_eligible": eligible,
            "rule_version": rule_version,
        },
    )


#: What routing's default rule set decides under rule 9 (routing's own tests prove it). Food
#: never reads concerns: the kit plays routing, sending the decision food follows.
ROUTING_FINDS_ELIGIBLE = frozenset({"income_shortfall", "debt_arrears", "food_insecurity"})


def case_rerouted(case_id: str, eligible: bool = True, *, rule_version: str = "2026.1") -> Envelope:
    """Routing's ``food_case_rerouted``: a corrected case found eligible."""
    return Envelope(
        event_type="food_case_rerouted",
        producer="routing",
        schema_version=2,
        data={"case_id": case_id, "food_parcel_eligible": eligible, "rule_version": rule_version},
    )


def consent_withdrawn(case_id: str) -> Envelope:
    """Routing's ``food_consent_withdrawn``."""
    return Envelope(
        event_type="food_consent_withdrawn",
        producer="routing",
        schema_version=2,
        data={"case_id": case_id, "withdrawn_at": datetime.now(UTC).isoformat()},
    )


@dataclass
class Food:
    """The real food distribution app and runtime, driven through HTTP (ASGI) and handlers."""

    settings: Settings
    config: FoodConfig
    app: FastAPI
    runtime: ServiceRuntime
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, config: FoodConfig, keys: KeySource = KEYS) -> Food:
        """``keys``: where the app gets residents' keys (``KEYS`` in this process unless
        given, e.g. an ``IntakeKeys`` asking a test's stand-in for intake)."""
        app = build_app(settings, config=config, keys=keys)
        return cls(settings, config, app, app.state.runtime)

    def client(self, username: str = "food", roles: Iterable[str] = LEAD):
        """A client of the API under a staff token: the food desk lead unless ``roles`` say
        otherwise (no roles: no token)."""
        headers = bearer(self.settings, username, roles) if roles else {}
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://food.test",
            headers=headers,
        )  # fmt: skip
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()
        await self.runtime.engine.dispose()

    async def case(
        self,
        *,
        concerns: Iterable[str] = ("income_shortfall",),
        eligible: bool | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """Apply routing's ``food_case_routed`` as the consumer would (same handler, without
        Kafka). The kit plays routing: ``eligible`` as given, else as routing's default rules
        decide on ``concerns`` (which do not travel)."""
        if eligible is None:
            eligible = bool(set(concerns) & ROUTING_FINDS_ELIGIBLE)
        envelope = case_routed(self.settings, eligible=eligible, **kw)
        await self.apply(envelope)
        return envelope.data

    async def decide(self, case_id: str, eligible: bool = True) -> None:
        """Apply routing's ``food_case_rerouted`` on a case as the consumer would."""
        await self.apply(case_rerouted(case_id, eligible))

    async def withdraw(self, case_id: str) -> None:
        """Apply routing's ``food_consent_withdrawn`` as the consumer would."""
        await self.apply(consent_withdrawn(case_id))

    async def apply(self, envelope: Envelope) -> None:
        """One event of ``routing.food.v1`` through food's handler, in one transaction."""
        handlers = {
            "food_case_routed": lambda s, e: cases.on_case_routed(s, self.app.state.deps, e),
            "food_case_rerouted": lambda s, e: cases.on_case_rerouted(s, self.app.state.deps, e),
            "food_consent_withdrawn": privacy.on_consent_withdrawn,
            "resident_erased": privacy.on_resident_erased,
        }
        async with self.runtime.sessions() as session, session.begin():
            await handlers[envelope.event_type](session, envelope)

    async def stock(self, event_id: str, venue_id: str = "venue-aeon", **quantities: int) -> None:
        c = self.client("stocker")
        for parcel_type, quantity in quantities.items():
            r = await c.post(
                "/api/v1/stock/receipts",
                json={
                    "event_id": event_id, "venue_id": venue_id, "parcel_type": parcel_type,
                    "quantity": quantity, "source": "フードバンク埼玉",
                },
            )  # fmt: skip
            assert r.status_code == 201, r.text

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.runtime.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar_one()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.runtime.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())


async def read_topic(bootstrap: str, topic: str) -> list[tuple[str, Envelope]]:
    """Every (key, envelope) on ``topic`` now (topics are shared: callers filter by their ids)."""
    return [
        (r.key.decode(), Envelope.from_bytes(r.value))
        for r in await testing.read_records(bootstrap, topic)
    ]
