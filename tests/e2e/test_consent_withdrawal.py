"""A consent withdrawal in the browser: intake records it on the case page, the member
programme's open inbox empties within seconds, the lead keeps the case; the resident, who asked
for it, gets the confirmation of the withdrawal and nothing more. Real stack, headless
Chromium; screenshots in ``test-output/e2e/screenshots/``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_kit import VENUE, Shots, Staff, query
from playwright.sync_api import expect
from stack import Stack, wait_for

sys.path.insert(0, str(Path(__file__).parents[1] / "bad_input"))
from badinput_support import case_body, take_in

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.timeout(600)]


def test_a_withdrawal_empties_the_member_inbox_and_the_lead_keeps_the_case(
    stack: Stack, browser: Any, shots: Shots
) -> None:
    event_id = f"{stack.today:%Y%m%d}-{VENUE}"
    intake_url = stack.url("intake")
    uketsuke = stack.client("intake", "uketsuke")
    # The article's example: life_independence leads, csw_participation is a member.
    case = take_in(
        uketsuke,
        case_body(event_id, ["income_shortfall", "isolation"]),
        {"life_independence", "csw_participation"},
    )
    staff = Staff(browser, intake_url)
    try:
        inbox = staff.page("csw_participation")
        inbox.goto(f"{intake_url}/inbox")
        row = inbox.get_by_text(case.case_number)
        expect(row).to_be_visible()
        shots(inbox, "member-inbox-before-withdrawal")

        desk = staff.page("uketsuke")
        desk.goto(f"{intake_url}/cases/{case.case_id}")
        desk.get_by_label("撤回の確認を本人に連絡する（本人が希望した場合）").check()
        shots(desk, "withdrawal-with-the-residents-confirmation-ticked")
        desk.get_by_role("button", name="同意の撤回を記録する").click()
        expect(desk.locator("#consent")).to_contain_text("なし")
        shots(desk, "consent-withdrawn-on-the-case-page")

        # The member's open inbox (live) loses the case within seconds, without a reload.
        expect(row).to_have_count(0, timeout=30_000)
        shots(inbox, "member-inbox-after-withdrawal")
        gone = inbox.goto(f"{intake_url}/cases/{case.case_id}")
        assert gone is not None and gone.status == 404

        lead = staff.page("life_independence")
        kept = lead.goto(f"{intake_url}/cases/{case.case_id}")
        assert kept is not None and kept.status == 200
        expect(lead.get_by_text(case.name).first).to_be_visible()
        shots(lead, "lead-keeps-the-case")
        statuses = {
            r["programme"]: r["status"]
            for r in query(
                stack,
                "SELECT programme, status FROM routing.referral WHERE case_id = $1",
                case.case_id,
            )
        }
        assert statuses == {"life_independence": "pending", "csw_participation": "withdrawn"}

        # The resident asked to be told: notify plans that one message for them, not suppressed.
        [confirmation] = wait_for(
            lambda: query(
                stack,
                "SELECT status, reason FROM notify.delivery"
                " WHERE case_id = $1 AND template = 'withdrawal_confirmed'",
                case.case_id,
            ),
            timeout=60,
            what="the confirmation of the withdrawal",
        )
        assert confirmation["status"] != "suppressed", confirmation
    finally:
        staff.close()
