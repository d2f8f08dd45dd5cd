"""Asks routing where a case would go before it is saved (``POST /api/v1/routing/explain``).

Staff are waiting at the desk, so this is one of the few synchronous calls between services; it
is only a preview, so any failure degrades to "preview unavailable" and never blocks saving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tsunagu.shared.contracts.intake import CaseFacts, Consent
from tsunagu.shared.logs import get_logger

log = get_logger(__name__)

EXPLAIN_PATH = "/api/v1/routing/explain"


@dataclass(frozen=True)
class PreviewLine:
    programme: str
    role: str | None
    status: str | None
    #: Routing's reasons, ``{code, params}`` each, rendered by the page in its language.
    reasons: list[Any]


@dataclass(frozen=True)
class Preview:
    ok: bool
    lines: list[PreviewLine] = field(default_factory=list)
    food_parcel_eligible: bool | None = None
    compound: bool | None = None
    urgent: bool | None = None
    external: list[dict[str, Any]] = field(default_factory=list)
    rule_version: str | None = None
    #: Why there is no preview ("unreachable", "refused"), for the message shown instead.
    problem: str | None = None


def explain_body(facts: CaseFacts, consent: Consent) -> dict[str, Any]:
    """What routing decides on, in the event contract's shape: the facts ``case_created`` will
    carry (the age on the event date, never the birth date or a name, so no personal data
    leaves intake for a preview) and the sharing basis."""
    return {"facts": facts.model_dump(mode="json"), "sharing_basis": str(consent.basis)}


class RoutingPreview:
    def __init__(self, base_url: str, timeout: float = 3.0) -> None:
        self.url = base_url.rstrip("/") + EXPLAIN_PATH
        self.timeout = timeout

    async def explain(self, facts: CaseFacts, consent: Consent, token: str) -> Preview:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(
                    self.url,
                    json=explain_body(facts, consent),
                    headers={"Authorization": f"Bearer {token}"},
                )
        except httpx.HTTPError as exc:
            log.warning("routing_preview_unreachable", error=type(exc).__name__)
            return Preview(ok=False, problem="unreachable")
        if response.status_code != 200:
            log.warning("routing_preview_refused", status=response.status_code)
            return Preview(ok=False, problem="refused")
        try:
            return parse_preview(response.json())
        except (ValueError, TypeError, KeyError, AttributeError):
            return Preview(ok=False, problem="refused")


def parse_preview(body: Any) -> Preview:
    """Read routing's answer: a decision with ``programmes`` (or a list of ``referrals``)."""
    decision = body.get("decision", body) if isinstance(body, dict) else {}
    lines: list[PreviewLine] = []
    if isinstance(decision.get("referrals"), list):
        for ref in decision["referrals"]:
            lines.append(
                PreviewLine(
                    programme=str(ref["programme"]),
                    role=ref.get("role"),
                    status=ref.get("status"),
                    reasons=list(ref.get("reasons") or []),
                )
            )
    else:
        roles = decision.get("roles") or {}
        reasons = decision.get("reasons") or {}
        waiting = set(decision.get("awaiting_consent") or [])
        for programme in decision.get("programmes") or []:
            lines.append(
                PreviewLine(
                    programme=str(programme),
                    role=roles.get(programme),
                    status="suggested" if programme in waiting else "pending",
                    reasons=list(reasons.get(programme) or []),
                )
            )
    external = decision.get("external_referrals") or decision.get("external") or []
    return Preview(
        ok=True,
        lines=lines,
        food_parcel_eligible=decision.get("food_parcel_eligible"),
        compound=decision.get("compound"),
        urgent=decision.get("urgent"),
        external=[e for e in external if isinstance(e, dict)],
        rule_version=decision.get("rule_version"),
    )
