"""Routing's HTTP API: explain a decision, list referrals, and the AsyncAPI document."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.routing import asyncapi
from tsunagu.routing.domain import CaseFacts, InvalidCaseFacts, UnknownConcernError, decide
from tsunagu.routing.domain.facts import MAX_AGE
from tsunagu.routing.service_layer.handlers import Routing
from tsunagu.routing.service_layer.mapping import age_on, decision_view, unknown_concerns
from tsunagu.shared.auth import Authenticator, Principal
from tsunagu.shared.contracts.codes import (
    Concern,
    Programme,
    ReferralStatus,
    SharingBasis,
    StaffRole,
)

#: Roles that see every referral; programme members see their programmes' only.
SEE_ALL = (StaffRole.ADMIN, StaffRole.INTAKE, StaffRole.COORDINATOR, StaffRole.AUDITOR)

#: What every route may answer besides its own result (documented in the OpenAPI).
Responses = dict[int | str, dict[str, Any]]
UNAUTHORISED: Responses = {401: {"description": "Not signed in"}}
REFERRAL_READERS: Responses = {
    **UNAUTHORISED,
    403: {"description": "Not a role that sees referrals, or not the caller's programme"},
}
#: PostgreSQL text cannot hold NUL: such an id can name nothing, so it is refused as invalid.
NO_NUL = r"^[^\x00]*$"


def _blank_to_none(value: object) -> object:
    # HTML forms send empty inputs as "": "not given".
    return None if isinstance(value, str) and not value.strip() else value


# --- the explain body: intake's case body, read leniently -----------------------------------


class _Lenient(BaseModel):
    # Intake posts its whole form body: names, phone numbers and notes are accepted and
    # dropped here, so they are never stored, logged or echoed.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ResidentFacts(_Lenient):
    birth_date: Annotated[date | None, BeforeValidator(_blank_to_none)] = Field(
        default=None, description="ISO date (YYYY-MM-DD); gives the age in Japan today."
    )
    age: Annotated[int | None, BeforeValidator(_blank_to_none)] = Field(
        default=None, ge=0, le=MAX_AGE, description="Used when no birth date is given."
    )
    lives_alone: bool | None = None
    disability_certificate: bool = False
    special_loan_borrower: bool = False


class UrgentFacts(_Lenient):
    no_food_today: bool = False
    eviction_within_7_days: bool = False


class ConsentFacts(_Lenient):
    basis: SharingBasis = SharingBasis.NONE


class ExplainRequest(_Lenient):
    """The case body intake accepts (``POST /api/v1/cases``); what routing does not decide on
    is ignored."""

    concerns: list[Concern] = Field(min_length=1)
    most_pressing: Annotated[Concern | None, BeforeValidator(_blank_to_none)] = None
    resident: ResidentFacts = ResidentFacts()
    urgent: UrgentFacts = UrgentFacts()
    consent: ConsentFacts = ConsentFacts()

    @field_validator("concerns", mode="before")
    @classmethod
    def _known_concerns(cls, value: Any) -> Any:
        unknown = unknown_concerns(value)
        if unknown:
            raise PydanticCustomError("unknown_concern", str(UnknownConcernError(unknown)))
        return value

    @field_validator("most_pressing", mode="before")
    @classmethod
    def _known_most_pressing(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip() and unknown_concerns([value]):
            raise PydanticCustomError("unknown_concern", str(UnknownConcernError([value])))
        return value

    @field_validator("most_pressing")
    @classmethod
    def _most_pressing_is_a_concern(cls, value: Concern | None, info: Any) -> Concern | None:
        concerns = info.data.get("concerns")
        if value is not None and concerns is not None and value not in concerns:
            raise PydanticCustomError(
                "most_pressing_not_in_concerns", "most_pressing must be one of the concerns"
            )
        return value

    def facts(self, today: date) -> CaseFacts:
        resident = self.resident
        age = resident.age
        if resident.birth_date is not None:
            if resident.birth_date > today:
                raise InvalidCaseFacts("birth_date is in the future")
            age = age_on(resident.birth_date, today)
        return CaseFacts(
            concerns=tuple(self.concerns),
            most_pressing=self.most_pressing,
            age=age,
            lives_alone=bool(resident.lives_alone),
            disability_certificate=resident.disability_certificate,
            special_loan_borrower=resident.special_loan_borrower,
            no_food_today=self.urgent.no_food_today,
            eviction_within_7_days=self.urgent.eviction_within_7_days,
            sharing_basis=self.consent.basis,
        )


class ExternalView(BaseModel):
    agency: str
    reason: str


class ExplainResponse(BaseModel):
    """The decision routing would take for this case now, with the rule version and reasons."""

    rule_version: str
    programmes: list[Programme]
    lead: Programme
    coordinator: Programme | None
    compound: bool
    urgent: bool
    urgent_reasons: list[str]
    food_parcel_eligible: bool
    sharing_basis: SharingBasis
    shared: list[Programme]
    awaiting_consent: list[Programme]
    roles: dict[Programme, str]
    reasons: dict[Programme, list[str]]
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
    reasons: list[str]
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
        """Route a case without storing anything: what would happen, and why."""
        today = routing.now().astimezone(routing.rules.timezone).date()
        try:
            decision = decide(body.facts(today), routing.rules)
        except InvalidCaseFacts as exc:  # only the birth date is left to check here
            error = {
                "loc": ["body", "resident", "birth_date"],
                "msg": str(exc),
                "type": "value_error",
            }
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
        return [dict(r) for r in rows]

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
        return [dict(r) for r in rows]

    @router.get("/asyncapi.yaml", include_in_schema=False)
    async def asyncapi_yaml() -> Response:
        return Response(asyncapi.to_yaml(), media_type="application/yaml")

    @router.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi_json() -> Response:
        return JSONResponse(asyncapi.document())

    return router


def _visible_programmes(principal: Principal) -> frozenset[Programme] | None:
    """``None`` for roles that see every referral, else the programmes the member belongs to."""
    if principal.is_admin or principal.has(*SEE_ALL):
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
        # A suggested referral awaits a sharing basis: the programme has not received the case.
        query = query.where(
            r.c.programme.in_([p.value for p in visible]),
            r.c.status != ReferralStatus.SUGGESTED,
        )
    return query
