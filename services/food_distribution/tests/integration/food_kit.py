"""Test helpers for food distribution: the app under test, tokens, cases and stock."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tsunagu.food_distribution.bootstrap import build_app
from tsunagu.food_distribution.config import FoodConfig
from tsunagu.food_distribution.service_layer import cases
from tsunagu.shared import testing
from tsunagu.shared.auth import Principal, issue_token
from tsunagu.shared.contracts.envelope import Envelope
from tsunagu.shared.crypto import LocalKeys, Purpose
from tsunagu.shared.runtime import ServiceRuntime
from tsunagu.shared.settings import Settings
from tsunagu.shared.testing import eventually as eventually  # the tests import it from here


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def token(
    settings: Settings, username: str = "food", roles: Iterable[str] = ("food_desk",), **kw: Any
) -> str:
    principal = Principal(username=username, roles=frozenset(roles), **kw)
    return issue_token(principal, settings.signing_key(), 3600)


def bearer(settings: Settings, username: str = "food", roles: Iterable[str] = ("food_desk",)):
    return {"Authorization": f"Bearer {token(settings, username, roles)}"}


#: Residents' keys as intake would hold them (the food app under test opens with these).
KEYS = LocalKeys()


def case_created(
    settings: Settings,
    *,
    case_id: str | None = None,
    household_id: str | None = None,
    event_id: str = "ev-test",
    venue_id: str = "venue-aeon",
    venue_name: str | None = None,
    case_number: str | None = None,
    concerns: Iterable[str] = ("income_shortfall",),
    name_kana: str | None = "ヤマダ ハナコ",
) -> Envelope:
    """A case_created envelope as intake publishes it: contact details and, on its own, the
    furigana, each sealed with the resident's key."""
    case_id = case_id or uid("case")
    resident_id = uid("res")
    sealed = kana_sealed = None
    if name_kana is not None:
        sealed = KEYS.seal(
            resident_id,
            Purpose.CONTACT,
            {
                "name": "山田 花子",
                "name_kana": name_kana,
                "phone": "090-1234-5678",
                "email": "hanako@example.jp",
                "address": "埼玉県川口市本町1-1-1",
            },
        )
        kana_sealed = KEYS.seal(resident_id, Purpose.KANA, name_kana)
    return Envelope(
        event_type="case_created",
        producer="intake",
        data={
            "case_id": case_id,
            "case_number": case_number or "K-" + uuid.uuid4().hex[:6].upper(),
            "event_id": event_id,
            "venue_id": venue_id,
            "venue_name": venue_name,
            "household_id": household_id or uid("hh"),
            "resident_id": resident_id,
            "taken_by": "intake1",
            "facts": {"concerns": list(concerns), "age": 78, "lives_alone": True},
            "consent": {"share_across_programmes": True, "basis": "consent"},
            "contact_sealed": sealed,
            "kana_sealed": kana_sealed,
            "created_at": datetime.now(UTC).isoformat(),
        },
    )


#: What routing's default rule set decides under rule 9 (routing's own tests prove it). Food
#: never reads concerns: the kit plays routing, sending the decision food follows.
ROUTING_FINDS_ELIGIBLE = frozenset({"income_shortfall", "debt_arrears", "food_insecurity"})


def case_decided(
    case_id: str, eligible: bool, *, rerouted: bool = False, rule_version: str = "2026.1"
) -> Envelope:
    """Routing's ``case_routed`` (or ``case_rerouted``) as far as food reads it."""
    return Envelope(
        event_type="case_rerouted" if rerouted else "case_routed",
        producer="routing",
        schema_version=2,
        data={
            "case_id": case_id,
            "case_number": "K-" + case_id[-6:],
            "event_id": "ev",
            "rule_version": rule_version,
            "lead": "life_independence",
            "compound": False,
            "urgent": False,
            "food_parcel_eligible": eligible,
            "referrals": [],
        },
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
    def build(cls, settings: Settings, config: FoodConfig) -> Food:
        app = build_app(settings, config=config, keys=KEYS)
        return cls(settings, config, app, app.state.runtime)

    def client(self, username: str = "food", roles: Iterable[str] = ("food_desk",)):
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

    async def case(self, *, routed: bool = True, **kw: Any) -> dict[str, Any]:
        """Apply a case_created and then routing's decision on it, as the consumer would (same
        handlers, without Kafka). Routing finds the case eligible as its default rules do."""
        envelope = case_created(self.settings, **kw)
        async with self.runtime.sessions() as session, session.begin():
            await cases.on_case_created(session, self.app.state.deps, envelope)
        if routed:
            concerns = set(envelope.data["facts"]["concerns"])
            await self.decide(envelope.data["case_id"], bool(concerns & ROUTING_FINDS_ELIGIBLE))
        return envelope.data

    async def decide(self, case_id: str, eligible: bool, *, rerouted: bool = False) -> None:
        """Apply routing's decision on a case as the consumer would."""
        envelope = case_decided(case_id, eligible, rerouted=rerouted)
        async with self.runtime.sessions() as session, session.begin():
            await cases.on_case_decided(session, self.app.state.deps, envelope)

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
