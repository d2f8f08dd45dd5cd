"""The staff pages: login, event day board, new case form, case page, programme inbox, admin.

Server-rendered and usable without JavaScript; a small script adds live updates (server-sent
events) and the duplicate hint while typing. Every page that shows personal data, and every
change, is written to the audit log.
"""

from __future__ import annotations

from fastapi import APIRouter

from tsunagu.intake.entrypoints.pages import (
    admin,
    audit_page,
    board,
    case_pages,
    inbox,
    intake_form,
    planning,
    reports,
    session,
)
from tsunagu.intake.entrypoints.pages.rendering import render

router = APIRouter(include_in_schema=False)
# The form's /cases/new comes before the case page's /cases/{case_id}.
for module in (
    session,
    board,
    intake_form,
    case_pages,
    inbox,
    admin,
    planning,
    reports,
    audit_page,
):
    router.include_router(module.router)

__all__ = ["render", "router"]
