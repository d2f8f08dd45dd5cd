"""Routing's HTTP API: explain a decision, list referrals, and the AsyncAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.routing.domain import InvalidCaseFacts, UnknownConcernError
from tsunagu.routing.service_layer.handlers import Routing
from tsunagu.routing.service_layer.mapping import (
    allowed_actions,
    decision_for,
    decision_view,
    unknown_concerns,
)
from tsunagu.shared.auth import Authenticator, Principal
from tsunagu.shared.contracts import intake
from tsunagu.shared.contracts.codes import (
    NOT_HOLDING,
    Programme,
    ReferralStatus,
    SharingBasis,
    StaffRole,
)
from tsunagu.shared.contracts.reasons import Reason, upgrade_reasons
from tsunagu.shared.text import NO_NUL

#: Roles that see every referral; programme members see their programmes' only.
SEE_ALL = (StaffRole.ADMIN, StaffRole.INTAKE, StaffRole.COORDINATOR, StaffRole.AUDITOR)

#: What every route may answer besides its own result (documented in the OpenAPI).
Responses = dict[int | str, dict[str, Any]]
UNAUTHORISED: Responses = {401: {"description": "Not signed in"}}
REFERRAL_READERS: Responses = {
    **UNAUTHORISED,
    403: {"description": "Not a role that sees referrals, or not the caller's programme"},
}


# --- the explain body: the facts of the event contract ---------------------------------------


class ExplainRequest(BaseModel):
    """What routing decides on, exactly as ``case_created`` carries it: the case's facts
    (``tsunagu.shared.contracts.intake.CaseFacts``: codes, flags, an age, no personal data)
    and the sharing basis. Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    facts: intake.CaseFacts
    sharing_basis: SharingBasis = SharingBasis.NONE

    @field_validator("facts", mode="before")
    @classmethod
    def _known_concerns(cls, value: Any) -> Any:
        if isinstance(value, dict):
            codes = (
                list(value.get("concerns") or []) if isinstance(value.get("concerns"), list) else []
            )
            if isinstance(value.get("most_pressing"), str):
                codes.append(value["most_pressing"])
            unknown = unknown_concerns(codes)
            if unknown:
                raise PydanticCustomError("unknown_concern", str(UnknownConcernError(unknown)))
        return value


class ExternalView(BaseModel):
    agency: str
    reasons: list[Reason]


class ExplainResponse(BaseModel):
    """The decision routing would take for this case now, with the rule version and reasons."""

    rule_version: str
    programmes: list[Programme]
    lead: Programme
    coordinator: Programme | None
    compound: bool
    urgent: bool
    urgent_reasons: list[Reason]
    food_parcel_eligible: bool
    sharing_basis: SharingBasis
    shared: list[Programme]
    awaiting_consent: list[Programme]
    roles: dict[Programme, str]
    reasons: dict[Programme, list[Reason]]
    external: list[ExternalView]


class ReferralView(BaseModel):
    referral_id: str
    case_id: str
    case_number: str
    programme: Programme
    role: str
    status: ReferralStatus
    urgent: bool
    rule_version: str
    deadline_at: datetime | None
    reasons: list[Reason]
    allowed_actions: list[str]
    reason: str | None
    outcome: str | None
    suggested_next: Programme | None
    taken_by: str | None
    escalated_at: datetime | None
    created_at: datetime
    updated_at: datetime


# --- routes ---------------------------------------------------------------------------------


def create_router(
    routing: Routing,
    sessions: async_sessionmaker[AsyncSession],
    authenticator: Authenticator,
) -> APIRouter:
    router = APIRouter()
    staff = Depends(authenticator.require())

    @router.post(
        "/api/v1/routing/explain",
        response_model=ExplainResponse,
        tags=["routing"],
        responses={**UNAUTHORISED, 400: {"description": "The body cannot be parsed"}},
    )
    async def explain(body: ExplainRequest, _: Principal = staff) -> dict[str, Any]:
        """Route a case without storing anything: what would happen, and why.

        The same code path as the decision taken when the case arrives (``decision_for``)."""
        try:
            _, decision = decision_for(body.facts, body.sharing_basis, routing.rules)
        except InvalidCaseFacts as exc:
            error = {"loc": ["body", "facts"], "msg": str(exc), "type": "value_error"}
            raise HTTPException(422, [error]) from None
        return decision_view(decision)

    @router.get(
        "/api/v1/referrals",
        response_model=list[ReferralView],
        tags=["referrals"],
        responses=REFERRAL_READERS,
    )
    async def list_referrals(
        principal: Principal = staff,
        programme: Programme | None = None,
        status_: Annotated[ReferralStatus | None, Query(alias="status")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[dict[str, Any]]:
        """Referrals, newest first; programme members see their programmes' only."""
        visible = _visible_programmes(principal)
        if programme is not None and visible is not None and programme not in visible:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "この窓口の紹介は表示できません")
        query = _referrals_query(routing, visible).limit(limit)
        t = routing.tables
        if programme is not None:
            query = query.where(t.referral.c.programme == programme)
        if status_ is not None:
            query = query.where(t.referral.c.status == status_)
        async with sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [_with_actions(r) for r in rows]

    @router.get(
        "/api/v1/cases/{case_id}/referrals",
        response_model=list[ReferralView],
        tags=["referrals"],
        responses={
            **REFERRAL_READERS,
            404: {"description": "No referrals of this case, or none the caller may see"},
        },
    )
    async def case_referrals(
        case_id: Annotated[str, Path(max_length=64, pattern=NO_NUL)],
        principal: Principal = staff,
    ) -> list[dict[str, Any]]:
        """The referrals of one case; programme members see their programmes' only."""
        visible = _visible_programmes(principal)
        query = _referrals_query(routing, visible).where(
            routing.tables.referral.c.case_id == case_id
        )
        async with sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        if not rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "紹介が見つかりません")
        return [_with_actions(r) for r in rows]

    return router


def _with_actions(row: Any) -> dict[str, Any]:
    return {
        **row,
        "reasons": upgrade_reasons(row["reasons"]),  # rows stored before reasons were data
        "allowed_actions": allowed_actions(row["status"]),
    }


def _visible_programmes(principal: Principal) -> frozenset[Programme] | None:
    """``None`` for roles that see every referral, else the programmes the member belongs to."""
    if principal.may(*SEE_ALL):
        return None
    if principal.has(StaffRole.PROGRAMME):
        return frozenset(p for p in Programme if p.value in principal.programmes)
    raise HTTPException(status.HTTP_403_FORBIDDEN, "この操作の権限がありません")


def _referrals_query(routing: Routing, visible: frozenset[Programme] | None) -> Any:
    r, d = routing.tables.referral, routing.tables.decision
    query = (
        select(
            r.c.referral_id,
            r.c.case_id,
            d.c.case_number,
            r.c.programme,
            r.c.role,
            r.c.status,
            d.c.urgent,
            d.c.rule_version,
            r.c.deadline_at,
            r.c.reasons,
            r.c.reason,
            r.c.outcome,
            r.c.suggested_next,
            r.c.taken_by,
            r.c.escalated_at,
            r.c.created_at,
            r.c.updated_at,
        )
        .join(d, d.c.case_id == r.c.case_id)
        .order_by(r.c.created_at.desc(), r.c.case_id, r.c.programme)
    )
    if visible is not None:
        # A suggested referral awaits a sharing basis (the programme has not received the
        # case); a withdrawn one lost it. Neither shows the programme anything.
        query = query.where(
            r.c.programme.in_([p.value for p in visible]),
            r.c.status.not_in([s.value for s in NOT_HOLDING]),
        )
    return query
