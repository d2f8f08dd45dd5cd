"""The HTTP API (``/api/v1``, port 8003): stock, eligibility, handouts and the event report.

Every route needs the ``food_desk`` role (admins always pass). Refusals come back in the one
error shape of every service, ``{"code", "message", "message_en", ...}`` with the specifics beside
them (``remaining``, ``handed_out_by`` …), with 404, 409 or 422.
"""

# No "from __future__ import annotations": FastAPI resolves the route-local Desk alias.
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tsunagu.food_distribution.entrypoints.schemas import (
    NO_CONTROL,
    AdjustmentIn,
    EventOut,
    GrantIn,
    HandoutIn,
    HandoutOut,
    HouseholdLinkIn,
    HouseholdLinkOut,
    HouseholdStatus,
    Problem,
    ReceiptIn,
    SearchHit,
    StockOut,
    TransferIn,
    TransferOut,
)
from tsunagu.food_distribution.service_layer import cases, handouts, households, queries, stock
from tsunagu.food_distribution.service_layer.deps import Deps
from tsunagu.food_distribution.service_layer.errors import FoodError, Invalid
from tsunagu.shared import errors
from tsunagu.shared.auth import Authenticator, Principal, check_csrf
from tsunagu.shared.contracts.codes import StaffRole

REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Not food desk staff; for a stock change, not the food desk lead"},
    404: {"model": Problem, "description": "Unknown case or event"},
    409: {"model": Problem, "description": "Not eligible, already served, out of stock"},
}
#: A body that cannot be read at all (not UTF-8) is refused before it is validated.
MALFORMED: dict[int | str, dict[str, Any]] = {400: {"description": "The body cannot be parsed"}}
EventId = Annotated[str, Query(min_length=1, max_length=64, pattern=NO_CONTROL)]
PathId = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_CONTROL)]


def install_error_handler(app: FastAPI) -> None:
    @app.exception_handler(FoodError)
    async def _refused(_: Request, exc: FoodError) -> JSONResponse:
        if isinstance(exc, Invalid):
            # A field the rules refuse reads like one the schema refused.
            return errors.invalid(
                [
                    {
                        "loc": [exc.location, exc.field],
                        "type": "value_error",
                        "msg": exc.message_en,
                        "message": exc.message_ja,
                    }
                ]
            )
        return JSONResponse(exc.body(), status_code=exc.status)


def api_router(
    sessions: async_sessionmaker[AsyncSession], deps: Deps, auth: Authenticator
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["food"], responses=REFUSALS)
    Desk = Annotated[Principal, Depends(auth.require(StaffRole.FOOD_DESK))]
    # Receipts, transfers and corrections change what every desk hands out: the lead's.
    Lead = Annotated[Principal, Depends(auth.require(StaffRole.FOOD_DESK_LEAD))]

    @asynccontextmanager
    async def transaction() -> AsyncIterator[AsyncSession]:
        async with sessions() as session, session.begin():
            yield session

    @router.get("/events", response_model=list[EventOut])
    async def list_events(_: Desk) -> Any:
        async with transaction() as session:
            return await queries.events(session)

    @router.get("/stock", response_model=StockOut)
    async def get_stock(event_id: EventId, _: Desk) -> Any:
        async with transaction() as session:
            return await queries.stock_of(session, deps.config, event_id)

    @router.post("/stock/receipts", response_model=StockOut, status_code=201, responses=MALFORMED)
    async def receive_stock(body: ReceiptIn, request: Request, staff: Lead) -> Any:
        await check_csrf(request, staff)
        async with transaction() as session:
            await stock.receive(session, deps, **body.model_dump(), staff=staff.username)
            return await queries.stock_of(session, deps.config, body.event_id)

    @router.post(
        "/stock/transfers", response_model=TransferOut, status_code=201, responses=MALFORMED
    )
    async def transfer_stock(body: TransferIn, request: Request, staff: Lead) -> Any:
        await check_csrf(request, staff)
        async with transaction() as session:
            left, arrived = await stock.transfer(
                session, deps, **body.model_dump(), staff=staff.username
            )
        return {**body.model_dump(), "from_remaining": left, "to_remaining": arrived}

    @router.post(
        "/stock/adjustments", response_model=StockOut, status_code=201, responses=MALFORMED
    )
    async def adjust_stock(body: AdjustmentIn, request: Request, staff: Lead) -> Any:
        await check_csrf(request, staff)
        if body.delta == 0:
            raise Invalid("delta", "増減数は 0 以外にしてください", "delta must not be 0")
        async with transaction() as session:
            await stock.adjust(session, deps, **body.model_dump(), staff=staff.username)
            return await queries.stock_of(session, deps.config, body.event_id)

    @router.get("/eligibility/{case_id}", response_model=HouseholdStatus)
    async def get_eligibility(case_id: PathId, staff: Desk) -> Any:
        async with transaction() as session:
            status = await queries.household_status(session, deps.config, case_id)
            await queries.audit_view(session, staff.username, "food.household_view", [case_id])
            return _no_kana(status)

    @router.post(
        "/households/links",
        response_model=HouseholdLinkOut,
        responses={404: {"model": Problem}, 409: {"model": Problem}, **MALFORMED},
    )
    async def link_household(body: HouseholdLinkIn, request: Request, staff: Desk) -> Any:
        """Two members of one household at today's event: the case joins the other's household,
        so the household gets one parcel at the event (``per_event``), not one each. Audited."""
        await check_csrf(request, staff)
        async with transaction() as session:
            return await households.link(
                session, deps.outbox, case_id=body.case_id,
                with_case_number=body.with_case_number, staff=staff.username,
            )  # fmt: skip

    @router.post(
        "/eligibility",
        response_model=HouseholdStatus,
        status_code=201,
        responses={200: {"model": HouseholdStatus, "description": "Already eligible"}, **MALFORMED},
    )
    async def grant_eligibility(
        body: GrantIn, request: Request, response: Response, staff: Desk
    ) -> Any:
        """A staff member grants a parcel by hand, with the reason (kept for the audit)."""
        await check_csrf(request, staff)
        async with transaction() as session:
            _, created = await cases.grant_manually(
                session, deps.outbox, case_id=body.case_id, staff=staff.username,
                reason=body.reason,
            )  # fmt: skip
            if not created:
                response.status_code = status.HTTP_200_OK
            return _no_kana(await queries.household_status(session, deps.config, body.case_id))

    @router.post("/handouts", response_model=HandoutOut, status_code=201, responses=MALFORMED)
    async def hand_out(
        body: HandoutIn,
        request: Request,
        response: Response,
        staff: Desk,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=200,
                description="Same key and body: the same answer, one handout",
            ),
        ] = None,
    ) -> Any:
        await check_csrf(request, staff)
        async with transaction() as session:
            outcome = await handouts.hand_out(
                session, deps, case_id=body.case_id, parcel_type=body.parcel_type,
                staff=staff.username, idempotency_key=idempotency_key,
            )  # fmt: skip
        if outcome.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        if outcome.refusal is not None:
            headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
            return JSONResponse(outcome.refusal.body(), 409, headers=headers)
        return outcome.handout

    @router.get("/handouts", response_model=list[HandoutOut])
    async def list_handouts(event_id: EventId, staff: Desk) -> Any:
        async with transaction() as session:
            rows = await queries.handouts_of(session, event_id)
            seen = sorted({r["case_id"] for r in rows})
            await queries.audit_view(session, staff.username, "food.handouts_list", seen)
            return rows

    @router.get("/cases", response_model=list[SearchHit])
    async def search_cases(
        event_id: EventId,
        q: Annotated[str, Query(min_length=1, max_length=100, pattern=NO_CONTROL)],
        staff: Desk,
    ) -> Any:
        """Find a household at today's event by case number or furigana: only households
        eligible, served, or whose full case number was given (ADR 13). Audited."""
        async with transaction() as session:
            candidates = await queries.search_candidates(session, event_id, q)
        # The furigana's keys are asked of intake with no transaction open (ADR 12); the
        # search is shown only once its audit entry is written.
        hits = await queries.search_hits(deps.sealer, candidates)
        async with transaction() as session:
            seen = [h["case_id"] for h in hits]
            await queries.audit_view(session, staff.username, "food.search", seen)
        return hits

    @router.get(
        "/reports/{event_id}.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 with BOM"}},
    )
    async def event_report(event_id: PathId, _: Desk) -> Response:
        async with transaction() as session:
            text = await queries.report_csv(session, event_id)
        filename = "food-report-" + re.sub(r"[^A-Za-z0-9._-]", "_", event_id) + ".csv"
        return Response(
            text.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return router


def _no_kana(status: dict[str, Any]) -> dict[str, Any]:
    """A household's status as the API gives it: no furigana, so none is opened."""
    return {k: v for k, v in status.items() if k != "kana_sealed"}
