"""Access control as a matrix: for each role, each route, the outcome the domain asks for.

The expectations come from domain.md ("People and roles") and the role names, not from the
code: a programme member sees only cases referred to their programme, and a case they may not
see is "not found", exactly like one that does not exist; the food desk sees only what a handout
needs; only intake staff take residents in; only a programme's members answer its referrals;
auditors look and never act; admins manage accounts, venues and events; without a token the API
answers 401 and a page sends the browser to the login page. Each cell is its own test.

The data is made through the APIs, as staff would: three residents taken in at the bad-input
event and referred by routing (A: the article's example, referred to life_independence and
csw_participation; B: elderly care only, referred to elderly_support; C: like A but without a
basis to share, so csw_participation is only *suggested* and has not received the case).
"""

from __future__ import annotations

import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from badinput_support import (
    AUDITOR,
    TakenIn,
    case_body,
    change_first_password,
    ensure_auditor,
    ensure_event,
    known_to_food,
    take_in,
    token,
)
from stack import DEMO_PASSWORD, otp_for

from tsunagu.shared.auth import COOKIE_NAME, generate_keypair, load_private_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: Who plays each role (demo accounts; the auditor is created by the admin).
USERS: dict[str, str | None] = {
    "admin": "admin",
    "intake": "uketsuke",
    "food_desk": "haifu",  # hands parcels out
    "food_desk_lead": "food",  # and runs the stock
    "programme": "csw_participation",  # A is referred to csw_participation; B and C are not
    "other_programme": "elderly_support",  # B is referred to elderly_support; A is not
    "coordinator": "csw_outreach",  # the CSW: coordinator, and member of csw_outreach
    "auditor": AUDITOR,
    "anonymous": None,
}
STAFF = [role for role in USERS if role != "anonymous"]

#: What the food desk may see of a case: enough to find the household and hand out a parcel.
FOOD_DESK_VIEW = {
    "case_id",
    "case_number",
    "name_kana",
    "food_parcel_eligible",
    "food_parcel_handed_out",
}
#: Fields that are the case itself: never for the food desk.
CASE_DETAILS = {
    "name",
    "birth_date",
    "age",
    "phone",
    "email",
    "address",
    "household",
    "proxy",
    "concerns",
    "most_pressing",
    "urgent",
    "consent",
    "notes",
    "referrals",
    "routing",
}


# --- the data ------------------------------------------------------------------------------


@dataclass
class World:
    intake_url: str
    event_id: str
    cases: dict[str, TakenIn]
    tokens: dict[str, str] = field(default_factory=dict)

    def fill(self, text: str) -> str:
        values = {
            "event": self.event_id,
            "A": self.cases["A"].case_id,
            "B": self.cases["B"].case_id,
            "C": self.cases["C"].case_id,
            "A_csw": self.cases["A"].referrals["csw_participation"],
            "A_lead": self.cases["A"].referrals["life_independence"],
            "B_elderly": self.cases["B"].referrals["elderly_support"],
            "nobody": str(uuid.uuid4()),
        }
        return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], text)


@pytest.fixture(scope="module")
def world(stack) -> World:
    admin_token = token(stack, "admin")
    admin = httpx.Client(
        base_url=stack.url("intake"),
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
    event_id = ensure_event(stack, admin)
    ensure_auditor(admin)
    intake = stack.client("intake", "uketsuke")
    article = ["income_shortfall", "isolation"]
    both = {"life_independence", "csw_participation"}
    cases = {
        "A": take_in(intake, case_body(event_id, article), both),
        "B": take_in(intake, case_body(event_id, ["elderly_care"]), {"elderly_support"}),
        "C": take_in(intake, case_body(event_id, article, share=False, basis="none"), both),
    }
    assert cases["C"].statuses["csw_participation"] == "suggested", cases["C"].statuses
    food = stack.client("food_distribution", "food")
    known_to_food(food, cases["A"].case_id)
    receipt = {
        "event_id": event_id,
        "venue_id": "bad-input",
        "parcel_type": "standard",
        "quantity": 20,
        "source": "フードバンク (access matrix)",
    }
    assert food.post("/api/v1/stock/receipts", json=receipt).status_code == 201
    tokens = {role: token(stack, user) for role, user in USERS.items() if user is not None}
    return World(intake_url=stack.url("intake"), event_id=event_id, cases=cases, tokens=tokens)


# --- request bodies ------------------------------------------------------------------------


def new_case(w: World) -> dict[str, Any]:
    return {"json": case_body(w.event_id, ["income_shortfall", "isolation"])}


def same_facts(w: World) -> dict[str, Any]:
    """A correction that changes nothing: allowed cells leave the case as it was."""
    return {"json": {"concerns": ["income_shortfall", "isolation"]}}


def give_consent(w: World) -> dict[str, Any]:
    return {
        "json": {
            "action": "give",
            "basis": "consent",
            "given_by": "resident",
            "given_how": "signed_form",
        }
    }


def meeting_without_reference(w: World) -> dict[str, Any]:
    return {"json": {"action": "give", "basis": "support_meeting"}}


def unprocessable(response: httpx.Response, w: World, role: str) -> str | None:
    return None if response.status_code == 422 else f"expected 422, got {response.status_code}"


def safe_contact_as_is(w: World) -> dict[str, Any]:
    """A is not at risk: marking it not sensitive changes nothing."""
    return {"json": {"sensitive": False, "safe_contact": None}}


def safe_contact_form(w: World) -> dict[str, Any]:
    return {"data": {"safe_contact": ""}}


def refer_again(w: World) -> dict[str, Any]:
    """A programme A already has: the allowed get 409 (nothing new is asked of routing)."""
    return {"json": {"programme": "life_independence"}}


def refer_again_form(w: World) -> dict[str, Any]:
    return {"data": {"programme": "life_independence"}}


def late_intake(w: World) -> dict[str, Any]:
    return {"json": {"reason": "アクセス表の確認"}}


def board_waiting(w: World) -> dict[str, Any]:
    return {"json": {"status": "waiting"}}


def accept(w: World) -> dict[str, Any]:
    return {"json": {"action": "accept"}}


def explain(w: World) -> dict[str, Any]:
    return {"json": {"facts": {"concerns": ["isolation"]}}}


def handout(w: World) -> dict[str, Any]:
    return {"json": {"case_id": w.cases["A"].case_id, "parcel_type": "standard"}}


def grant(w: World) -> dict[str, Any]:
    return {"json": {"case_id": w.cases["B"].case_id, "reason": "access matrix"}}


def adjustment(w: World) -> dict[str, Any]:
    body = {"event_id": w.event_id, "parcel_type": "standard", "delta": -1, "reason": "破損"}
    return {"json": body}


def receipt(w: World) -> dict[str, Any]:
    body = {"event_id": w.event_id, "venue_id": "bad-input", "parcel_type": "standard",
            "quantity": 1, "source": "フードバンク (access matrix)"}  # fmt: skip
    return {"json": body}


def desk_adjustment(w: World) -> dict[str, Any]:
    form = {"event_id": w.event_id, "parcel_type": "standard", "counted": "20", "reason": "棚卸し"}
    return {"data": form}


def invitations(w: World) -> dict[str, Any]:
    form = {
        "event_id": w.event_id,
        "event_date": "2030-01-01",
        "opens_at": "10:00",
        "closes_at": "15:00",
        "venue_name": "テスト会場",
        "venue_address": "川口市",
    }
    return {"data": form, "files": {"file": ("borrowers.csv", b"", "text/csv")}}


def new_staff_as_admin(w: World) -> dict[str, Any]:
    """Someone making themselves (or a friend) an admin."""
    name = f"intruder_{uuid.uuid4().hex[:6]}"
    form = {"username": name, "display_name": "x", "roles": ["admin"], "password": "x" * 12}
    return {"data": form}


def auditor_as_admin(w: World) -> dict[str, Any]:
    return {"data": {"display_name": "監査 担当", "roles": ["admin"], "has_active": "1"}}


def venue(w: World) -> dict[str, Any]:
    return {"data": {"venue_id": "bad-input", "name": "不正入力テスト会場", "address": "テスト用"}}


def event(w: World) -> dict[str, Any]:
    form = {
        "venue_id": "bad-input",
        "event_date": "2031-01-01",
        "opens_at": "10:00",
        "closes_at": "15:00",
        "programmes": ["life_independence"],
    }
    return {"data": form}


def case_form(w: World) -> dict[str, Any]:
    return {"data": {"event_id": w.event_id, "name": "x", "name_kana": "えっくす"}}


def respond_form(w: World) -> dict[str, Any]:
    return {"data": {"action": "accept"}}


def desk_handout(w: World) -> dict[str, Any]:
    form = {"event_id": w.event_id, "case_id": w.cases["A"].case_id, "parcel_type": "standard"}
    return {"data": form}


# --- what an answer must be ----------------------------------------------------------------

Check = Callable[[httpx.Response, World, str], str | None]


def allowed(response: httpx.Response, w: World, role: str) -> str | None:
    """Done, or refused only for the state of things (409): either way, not for the role."""
    if response.status_code in (200, 201, 202, 204, 409):
        return None
    if response.status_code == 303 and "/login" not in response.headers.get("location", ""):
        return None
    return f"expected it done, got {response.status_code}"


def unauthenticated(response: httpx.Response, w: World, role: str) -> str | None:
    if response.status_code != 401:
        return f"expected 401, got {response.status_code}"
    if "Bearer" not in response.headers.get("www-authenticate", ""):
        return "401 without WWW-Authenticate: Bearer"
    return None


def to_login(response: httpx.Response, w: World, role: str) -> str | None:
    location = response.headers.get("location", "")
    if response.status_code not in (302, 303, 307) or not location.startswith(
        w.intake_url + "/login"
    ):
        return f"expected a redirect to the login page, got {response.status_code} {location}"
    return None


def forbidden(response: httpx.Response, w: World, role: str) -> str | None:
    return None if response.status_code == 403 else f"expected 403, got {response.status_code}"


def no_leak(response: httpx.Response, w: World) -> str | None:
    for case in w.cases.values():
        for secret in (case.name, case.case_number):
            if secret in response.text:
                return f"the refusal shows {secret!r}"
    return None


def hidden(response: httpx.Response, w: World, role: str) -> str | None:
    """404, as for something that does not exist: no hint that it does."""
    if response.status_code != 404:
        return f"expected 404, got {response.status_code}"
    return no_leak(response, w)


def refused(response: httpx.Response, w: World, role: str) -> str | None:
    if response.status_code not in (403, 404):
        return f"expected 403 or 404, got {response.status_code}"
    return no_leak(response, w)


def full_case(response: httpx.Response, w: World, role: str) -> str | None:
    if response.status_code != 200:
        return f"expected the case, got {response.status_code}"
    missing = {"name", "concerns", "referrals"} - response.json().keys()
    return f"the case lacks {sorted(missing)}" if missing else None


def food_desk_view(response: httpx.Response, w: World, role: str) -> str | None:
    """Either refused, or only what a handout needs."""
    if response.status_code in (403, 404):
        return None
    if response.status_code != 200:
        return f"expected 200 (narrow), 403 or 404, got {response.status_code}"
    extra = set(response.json()) - FOOD_DESK_VIEW
    return f"the food desk sees {sorted(extra)}" if extra else None


def food_desk_list(response: httpx.Response, w: World, role: str) -> str | None:
    if response.status_code in (403, 404):
        return None
    if response.status_code != 200:
        return f"expected 200 (narrow), 403 or 404, got {response.status_code}"
    extra = {key for item in response.json()["items"] for key in item} - FOOD_DESK_VIEW
    return f"the food desk's list shows {sorted(extra)}" if extra else None


def programme_of(w: World, role: str) -> str:
    user = USERS[role]
    assert user is not None
    return user  # each demo programme member is named after their programme


def referred_cases_only(response: httpx.Response, w: World, role: str) -> str | None:
    """The member's list holds the world's cases shared with their programme, and no other."""
    if response.status_code != 200:
        return f"expected 200, got {response.status_code}"
    listed = {item["case_id"] for item in response.json()["items"]}
    programme = programme_of(w, role)
    for name, case in w.cases.items():
        shared = case.statuses.get(programme) not in (None, "suggested")
        if shared and case.case_id not in listed:
            return f"case {name}, referred to {programme}, is not listed"
        if not shared and case.case_id in listed:
            return f"case {name}, not referred to {programme}, is listed"
    return None


def own_referrals_only(response: httpx.Response, w: World, role: str) -> str | None:
    if response.status_code != 200:
        return f"expected 200, got {response.status_code}"
    programme = programme_of(w, role)
    items = response.json()
    others = {(r["programme"], r["status"]) for r in items if r["programme"] != programme}
    suggested = [r for r in items if r["status"] == "suggested"]
    if others or suggested:
        return f"{programme} sees {sorted(others)} and {len(suggested)} suggested referrals"
    mine = {r["referral_id"] for r in items}
    if w.cases["A"].referrals[programme] not in mine:
        return "the member's own referral is missing"
    return None


def own_cases_only(response: httpx.Response, w: World, role: str) -> str | None:
    """Deliveries only about the world's cases shared with the member's programme."""
    if response.status_code != 200:
        return f"expected 200, got {response.status_code}"
    listed = {item["case_id"] for item in response.json()}
    programme = programme_of(w, role)
    for name, case in w.cases.items():
        shared = case.statuses.get(programme) not in (None, "suggested", "withdrawn")
        if not shared and case.case_id in listed:
            return f"deliveries of case {name}, not held by {programme}, are listed"
    return None


# --- the matrix ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    role: str
    service: str
    method: str
    path: str
    expect: Check
    body: Callable[[World], dict[str, Any]] | None = None
    page: bool = False

    @property
    def id(self) -> str:
        where = {"intake": "", "routing": "routing:", "notify": "notify:"}.get(
            self.service, "food:"
        )
        return f"{self.role}-{self.method} {where}{self.path}-{self.expect.__name__}"


def row(
    roles: list[str],
    service: str,
    method: str,
    path: str,
    expect: Check,
    body: Callable[[World], dict[str, Any]] | None = None,
    *,
    page: bool = False,
) -> list[Cell]:
    return [Cell(r, service, method, path, expect, body, page) for r in roles]


def everyone_but(*roles: str) -> list[str]:
    return [r for r in STAFF if r not in roles]


ANON = ["anonymous"]
CASEWORK_OUTSIDERS = ["admin", "auditor", "food_desk"]

MATRIX: list[Cell] = [
    # intake API: taking a resident in is intake's alone
    *row(["intake"], "intake", "POST", "/api/v1/cases", allowed, new_case),
    *row(everyone_but("intake"), "intake", "POST", "/api/v1/cases", forbidden, new_case),
    *row(ANON, "intake", "POST", "/api/v1/cases", unauthenticated, new_case),
    # intake API: reading a case
    *row(
        ["admin", "intake", "coordinator", "auditor", "programme"],
        "intake",
        "GET",
        "/api/v1/cases/{A}",
        full_case,
    ),
    *row(["other_programme"], "intake", "GET", "/api/v1/cases/{A}", hidden),
    *row(["food_desk"], "intake", "GET", "/api/v1/cases/{A}", food_desk_view),
    *row(ANON, "intake", "GET", "/api/v1/cases/{A}", unauthenticated),
    *row(["programme"], "intake", "GET", "/api/v1/cases/{B}", hidden),
    *row(["other_programme"], "intake", "GET", "/api/v1/cases/{B}", full_case),
    *row(["programme"], "intake", "GET", "/api/v1/cases/{C}", hidden),  # only suggested
    *row(["programme"], "intake", "GET", "/api/v1/cases/{nobody}", hidden),
    # intake API: lists of cases
    *row(
        ["programme", "other_programme"],
        "intake",
        "GET",
        "/api/v1/cases?event_id={event}&page_size=100",
        referred_cases_only,
    ),
    *row(["food_desk"], "intake", "GET", "/api/v1/cases?event_id={event}", food_desk_list),
    *row(ANON, "intake", "GET", "/api/v1/cases", unauthenticated),
    *row(ANON, "intake", "GET", "/api/v1/events", unauthenticated),
    # intake API: changing a case
    *row(["intake", "coordinator"], "intake", "PATCH", "/api/v1/cases/{A}", allowed, same_facts),
    *row(["auditor", "programme"], "intake", "PATCH", "/api/v1/cases/{A}", forbidden, same_facts),
    *row(["food_desk"], "intake", "PATCH", "/api/v1/cases/{A}", refused, same_facts),
    *row(["other_programme"], "intake", "PATCH", "/api/v1/cases/{A}", hidden, same_facts),
    *row(ANON, "intake", "PATCH", "/api/v1/cases/{A}", unauthenticated, same_facts),
    # consent and basis: intake staff and coordinators only, even for members who hold the case
    *row(
        ["intake", "coordinator"],
        "intake",
        "POST",
        "/api/v1/cases/{A}/consent",
        allowed,
        give_consent,
    ),
    *row(
        ["auditor", "admin", "programme"],
        "intake",
        "POST",
        "/api/v1/cases/{A}/consent",
        forbidden,
        give_consent,
    ),
    *row(
        ["intake"],
        "intake",
        "POST",
        "/api/v1/cases/{A}/consent",
        unprocessable,
        meeting_without_reference,
    ),
    *row(["food_desk"], "intake", "POST", "/api/v1/cases/{A}/consent", refused, give_consent),
    *row(["other_programme"], "intake", "POST", "/api/v1/cases/{A}/consent", hidden, give_consent),
    *row(ANON, "intake", "POST", "/api/v1/cases/{A}/consent", unauthenticated, give_consent),
    *row(["intake"], "intake", "POST", "/api/v1/cases/{A}/board-status", allowed, board_waiting),
    *row(
        ["auditor", "programme"],
        "intake",
        "POST",
        "/api/v1/cases/{A}/board-status",
        forbidden,
        board_waiting,
    ),
    *row(["food_desk"], "intake", "POST", "/api/v1/cases/{A}/board-status", refused, board_waiting),
    *row(ANON, "intake", "POST", "/api/v1/cases/{A}/board-status", unauthenticated, board_waiting),
    # safe contact and asking routing for one more referral: intake staff and coordinators
    *row(
        ["intake", "coordinator"],
        "intake",
        "POST",
        "/api/v1/cases/{A}/safe-contact",
        allowed,
        safe_contact_as_is,
    ),
    *row(
        ["admin", "auditor", "programme"],
        "intake",
        "POST",
        "/api/v1/cases/{A}/safe-contact",
        forbidden,
        safe_contact_as_is,
    ),
    *row(
        ["food_desk"],
        "intake",
        "POST",
        "/api/v1/cases/{A}/safe-contact",
        refused,
        safe_contact_as_is,
    ),
    *row(
        ["other_programme"],
        "intake",
        "POST",
        "/api/v1/cases/{A}/safe-contact",
        hidden,
        safe_contact_as_is,
    ),
    *row(
        ANON,
        "intake",
        "POST",
        "/api/v1/cases/{A}/safe-contact",
        unauthenticated,
        safe_contact_as_is,
    ),
    *row(
        ["intake", "coordinator"],
        "intake",
        "POST",
        "/api/v1/cases/{A}/referrals",
        allowed,
        refer_again,
    ),
    *row(
        ["admin", "auditor", "programme"],
        "intake",
        "POST",
        "/api/v1/cases/{A}/referrals",
        forbidden,
        refer_again,
    ),
    *row(["food_desk"], "intake", "POST", "/api/v1/cases/{A}/referrals", refused, refer_again),
    *row(["other_programme"], "intake", "POST", "/api/v1/cases/{A}/referrals", hidden, refer_again),
    *row(ANON, "intake", "POST", "/api/v1/cases/{A}/referrals", unauthenticated, refer_again),
    # intake API: taking residents in on another day than the event's is an admin's leave
    *row(["admin"], "intake", "PUT", "/api/v1/events/{event}/late-intake", allowed, late_intake),
    *row(
        everyone_but("admin"),
        "intake",
        "PUT",
        "/api/v1/events/{event}/late-intake",
        forbidden,
        late_intake,
    ),
    *row(ANON, "intake", "PUT", "/api/v1/events/{event}/late-intake", unauthenticated, late_intake),
    *row(
        everyone_but("admin"), "intake", "DELETE", "/api/v1/events/{event}/late-intake", forbidden
    ),
    *row(ANON, "intake", "DELETE", "/api/v1/events/{event}/late-intake", unauthenticated),
    # intake API: a referral is answered by its programme's members only
    *row(["programme"], "intake", "POST", "/api/v1/referrals/{A_csw}/respond", allowed, accept),
    *row(
        ["intake", "admin", "auditor"],
        "intake",
        "POST",
        "/api/v1/referrals/{A_csw}/respond",
        forbidden,
        accept,
    ),
    *row(
        ["food_desk", "coordinator"],
        "intake",
        "POST",
        "/api/v1/referrals/{A_csw}/respond",
        refused,
        accept,
    ),
    *row(
        ["other_programme"], "intake", "POST", "/api/v1/referrals/{A_csw}/respond", hidden, accept
    ),
    *row(["programme"], "intake", "POST", "/api/v1/referrals/{A_lead}/respond", forbidden, accept),
    *row(["programme"], "intake", "POST", "/api/v1/referrals/{B_elderly}/respond", hidden, accept),
    *row(ANON, "intake", "POST", "/api/v1/referrals/{A_csw}/respond", unauthenticated, accept),
    # intake API: looking for a returning resident is part of taking them in
    *row(["intake"], "intake", "GET", "/api/v1/residents/matches?name_kana=ふせい", allowed),
    *row(
        ["programme", "other_programme", "food_desk"],
        "intake",
        "GET",
        "/api/v1/residents/matches?name_kana=ふせい",
        forbidden,
    ),
    *row(ANON, "intake", "GET", "/api/v1/residents/matches?name_kana=ふせい", unauthenticated),
    # intake API: the audit log is the auditor's alone
    *row(["auditor"], "intake", "GET", "/api/v1/audit?case_id={A}", allowed),
    *row(everyone_but("auditor"), "intake", "GET", "/api/v1/audit?case_id={A}", forbidden),
    *row(ANON, "intake", "GET", "/api/v1/audit", unauthenticated),
    *row(["auditor"], "intake", "GET", "/audit", allowed, page=True),
    *row(["intake", "admin", "programme"], "intake", "GET", "/audit", forbidden, page=True),
    # routing API
    *row(
        ["admin", "intake", "coordinator", "auditor"],
        "routing",
        "GET",
        "/api/v1/referrals",
        allowed,
    ),
    *row(["programme"], "routing", "GET", "/api/v1/referrals", own_referrals_only),
    *row(["programme"], "routing", "GET", "/api/v1/referrals?programme=elderly_support", forbidden),
    *row(["food_desk"], "routing", "GET", "/api/v1/referrals", forbidden),
    *row(ANON, "routing", "GET", "/api/v1/referrals", unauthenticated),
    *row(["programme"], "routing", "GET", "/api/v1/cases/{B}/referrals", hidden),
    *row(["programme"], "routing", "GET", "/api/v1/cases/{C}/referrals", hidden),
    *row(["other_programme"], "routing", "GET", "/api/v1/cases/{B}/referrals", allowed),
    *row(["food_desk"], "routing", "GET", "/api/v1/cases/{A}/referrals", forbidden),
    *row(ANON, "routing", "GET", "/api/v1/cases/{A}/referrals", unauthenticated),
    *row(["intake"], "routing", "POST", "/api/v1/routing/explain", allowed, explain),
    *row(ANON, "routing", "POST", "/api/v1/routing/explain", unauthenticated, explain),
    # notify API: deliveries are for casework staff; residents' letters, calls and invitation
    # lists (names, addresses, phones of every case) for intake and coordinators
    *row(["admin", "intake", "auditor"], "notify", "GET", "/api/v1/deliveries", allowed),
    # programme members: only deliveries about the cases their programme holds
    *row(["programme", "other_programme"], "notify", "GET", "/api/v1/deliveries", own_cases_only),
    *row(["food_desk"], "notify", "GET", "/api/v1/deliveries", forbidden),
    *row(ANON, "notify", "GET", "/api/v1/deliveries", unauthenticated),
    *row(["food_desk"], "notify", "GET", "/api/v1/deliveries/failures", forbidden),
    *row(ANON, "notify", "GET", "/api/v1/deliveries/failures", unauthenticated),
    *row(
        ["food_desk", "auditor"], "notify", "POST", "/api/v1/deliveries/{nobody}/retry", forbidden
    ),
    *row(ANON, "notify", "POST", "/api/v1/deliveries/{nobody}/retry", unauthenticated),
    *row(["admin", "intake", "coordinator"], "notify", "GET", "/api/v1/letters", allowed),
    *row(["programme", "food_desk", "auditor"], "notify", "GET", "/api/v1/letters", forbidden),
    *row(ANON, "notify", "GET", "/api/v1/letters", unauthenticated),
    *row(
        ["programme", "other_programme", "food_desk", "auditor"],
        "notify",
        "POST",
        "/api/v1/invitations/import",
        forbidden,
        invitations,
    ),
    *row(ANON, "notify", "POST", "/api/v1/invitations/import", unauthenticated, invitations),
    # food distribution API: the food desk's (admins always pass)
    *row(["food_desk"], "food", "POST", "/api/v1/handouts", allowed, handout),
    *row(
        ["intake", "programme", "coordinator", "auditor"],
        "food",
        "POST",
        "/api/v1/handouts",
        forbidden,
        handout,
    ),
    *row(ANON, "food", "POST", "/api/v1/handouts", unauthenticated, handout),
    *row(["food_desk", "admin"], "food", "GET", "/api/v1/stock?event_id={event}", allowed),
    *row(["programme", "intake"], "food", "GET", "/api/v1/stock?event_id={event}", forbidden),
    *row(ANON, "food", "GET", "/api/v1/stock?event_id={event}", unauthenticated),
    *row(["food_desk"], "food", "GET", "/api/v1/cases?event_id={event}&q=ふせい", allowed),
    *row(
        ["programme", "other_programme"],
        "food",
        "GET",
        "/api/v1/cases?event_id={event}&q=ふせい",
        forbidden,
    ),
    *row(ANON, "food", "GET", "/api/v1/cases?event_id={event}&q=ふせい", unauthenticated),
    *row(["programme", "intake"], "food", "POST", "/api/v1/eligibility", forbidden, grant),
    *row(ANON, "food", "POST", "/api/v1/eligibility", unauthenticated, grant),
    *row(["programme"], "food", "GET", "/api/v1/eligibility/{A}", forbidden),
    *row(
        ["programme", "intake"], "food", "POST", "/api/v1/stock/adjustments", forbidden, adjustment
    ),
    # the stock is the food desk lead's: a desk member hands parcels out, does not change it
    *row(["food_desk_lead", "admin"], "food", "POST", "/api/v1/stock/receipts", allowed, receipt),
    *row(["food_desk"], "food", "POST", "/api/v1/stock/receipts", forbidden, receipt),
    *row(["food_desk_lead"], "food", "POST", "/api/v1/stock/adjustments", allowed, adjustment),
    *row(["food_desk"], "food", "POST", "/api/v1/stock/adjustments", forbidden, adjustment),
    *row(["admin"], "food", "GET", "/api/v1/reports/{event}.csv", allowed),
    *row(["programme", "intake"], "food", "GET", "/api/v1/reports/{event}.csv", forbidden),
    *row(ANON, "food", "GET", "/api/v1/reports/{event}.csv", unauthenticated),
    # intake reports: counts for admins (and managers); event planning for admins
    *row(["admin"], "intake", "GET", "/api/v1/reports/events/{event}", allowed),
    *row(everyone_but("admin"), "intake", "GET", "/api/v1/reports/events/{event}", forbidden),
    *row(ANON, "intake", "GET", "/api/v1/reports/events/{event}", unauthenticated),
    *row(["admin"], "intake", "GET", "/api/v1/reports/period?fiscal_year=2026", allowed),
    *row(
        ["auditor", "food_desk"], "intake", "GET", "/api/v1/reports/period?month=2026-04", forbidden
    ),
    *row(["admin"], "intake", "GET", "/reports?event_id={event}", allowed, page=True),
    *row(everyone_but("admin"), "intake", "GET", "/reports", forbidden, page=True),
    *row(["admin"], "intake", "GET", "/admin/events/{event}", allowed, page=True),
    *row(everyone_but("admin"), "intake", "GET", "/admin/events/{event}", forbidden, page=True),
    # the residents' page and the flyer: for anyone, signed in or not
    *row([*STAFF, *ANON], "intake", "GET", "/events", allowed, page=True),
    *row(ANON, "intake", "GET", "/events/{event}/flyer.pdf", allowed),
    # pages without a session: to the login page (GET), 401 (POST: nothing is done)
    *[
        Cell("anonymous", service, "GET", path, to_login, page=True)
        for service, path in [
            ("intake", "/"),
            ("intake", "/cases"),
            ("intake", "/cases/new"),
            ("intake", "/cases/{A}"),
            ("intake", "/inbox"),
            ("intake", "/board"),
            ("intake", "/admin"),
            ("intake", "/reports"),
            ("intake", "/admin/events/{event}"),
            ("notify", "/"),
            ("notify", "/failures"),
            ("notify", "/letters"),
            ("notify", "/calls"),
            ("notify", "/invitations"),
            ("food", "/desk"),
        ]
    ],
    *row(ANON, "intake", "POST", "/cases/new", unauthenticated, case_form, page=True),
    *row(ANON, "intake", "POST", "/admin/staff", unauthenticated, new_staff_as_admin, page=True),
    *row(ANON, "food", "POST", "/desk/handouts", unauthenticated, desk_handout, page=True),
    *row(ANON, "notify", "POST", "/invitations", unauthenticated, invitations, page=True),
    # intake pages: administration is the admin's
    *row(["admin"], "intake", "GET", "/admin", allowed, page=True),
    *row(["admin"], "intake", "GET", "/admin/staff/uketsuke", allowed, page=True),
    *row(["admin"], "intake", "POST", "/admin/venues", allowed, venue, page=True),
    *row(everyone_but("admin"), "intake", "GET", "/admin", forbidden, page=True),
    *row(
        everyone_but("admin"),
        "intake",
        "POST",
        "/admin/staff",
        forbidden,
        new_staff_as_admin,
        page=True,
    ),
    *row(
        ["programme", "auditor"],
        "intake",
        "POST",
        f"/admin/staff/{AUDITOR}",
        forbidden,
        auditor_as_admin,
        page=True,
    ),
    # taking a second factor off (a lost phone) is the admin's; the auditor has none to take
    *row(["admin"], "intake", "DELETE", f"/api/v1/staff/{AUDITOR}/totp", allowed),
    *row(everyone_but("admin"), "intake", "DELETE", "/api/v1/staff/admin/totp", forbidden),
    *row(ANON, "intake", "DELETE", "/api/v1/staff/admin/totp", unauthenticated),
    *row(
        ["programme", "auditor", "food_desk"],
        "intake",
        "POST",
        "/admin/staff/admin/totp/remove",
        forbidden,
        page=True,
    ),
    *row(["intake", "coordinator"], "intake", "POST", "/admin/events", forbidden, event, page=True),
    *row(["food_desk"], "intake", "POST", "/admin/venues", forbidden, venue, page=True),
    # intake pages: casework
    *row(["intake"], "intake", "GET", "/cases/new", allowed, page=True),
    *row(
        ["food_desk", "programme", "auditor"], "intake", "GET", "/cases/new", forbidden, page=True
    ),
    *row(["food_desk"], "intake", "POST", "/cases/new", forbidden, case_form, page=True),
    *row(["programme"], "intake", "GET", "/cases/{A}", allowed, page=True),
    *row(["other_programme"], "intake", "GET", "/cases/{A}", hidden, page=True),
    *row(["food_desk", "programme"], "intake", "GET", "/board", forbidden, page=True),
    *row(
        ["intake"],
        "intake",
        "POST",
        "/cases/{A}/safe-contact",
        allowed,
        safe_contact_form,
        page=True,
    ),
    *row(
        ["programme", "auditor"],
        "intake",
        "POST",
        "/cases/{A}/safe-contact",
        forbidden,
        safe_contact_form,
        page=True,
    ),
    *row(
        ["other_programme", "food_desk"],
        "intake",
        "POST",
        "/cases/{A}/safe-contact",
        refused,
        safe_contact_form,
        page=True,
    ),
    *row(
        ANON,
        "intake",
        "POST",
        "/cases/{A}/safe-contact",
        unauthenticated,
        safe_contact_form,
        page=True,
    ),
    *row(
        ["intake"], "intake", "POST", "/cases/{A}/referrals", allowed, refer_again_form, page=True
    ),
    *row(
        ["programme", "auditor"],
        "intake",
        "POST",
        "/cases/{A}/referrals",
        forbidden,
        refer_again_form,
        page=True,
    ),
    *row(
        ["other_programme", "food_desk"],
        "intake",
        "POST",
        "/cases/{A}/referrals",
        refused,
        refer_again_form,
        page=True,
    ),
    *row(
        ANON, "intake", "POST", "/cases/{A}/referrals", unauthenticated, refer_again_form, page=True
    ),
    *row(
        ["intake", "admin"],
        "intake",
        "POST",
        "/inbox/referrals/{A_csw}/respond",
        forbidden,
        respond_form,
        page=True,
    ),
    *row(
        ["food_desk"],
        "intake",
        "POST",
        "/inbox/referrals/{A_csw}/respond",
        refused,
        respond_form,
        page=True,
    ),
    # food desk pages
    *row(
        ["food_desk", "food_desk_lead"], "food", "GET", "/desk?event_id={event}", allowed, page=True
    ),
    *row(
        ["food_desk", "intake"],
        "food",
        "POST",
        "/desk/stock/adjustments",
        forbidden,
        desk_adjustment,
        page=True,
    ),
    *row(["intake", "programme", "coordinator"], "food", "GET", "/desk", forbidden, page=True),
    *row(
        ["intake", "programme"],
        "food",
        "POST",
        "/desk/handouts",
        forbidden,
        desk_handout,
        page=True,
    ),
    # notify pages
    *row(["intake"], "notify", "GET", "/letters", allowed, page=True),
    *row(["programme", "food_desk"], "notify", "GET", "/letters", forbidden, page=True),
    *row(["programme", "food_desk"], "notify", "GET", "/calls", forbidden, page=True),
    *row(["programme", "food_desk"], "notify", "GET", "/invitations", forbidden, page=True),
    *row(["food_desk"], "notify", "GET", "/failures", forbidden, page=True),
]

SERVICE = {
    "intake": "intake",
    "routing": "routing",
    "notify": "notify",
    "food": "food_distribution",
}


@pytest.mark.parametrize("cell", MATRIX, ids=[c.id for c in MATRIX])
def test_access(stack, world: World, cell: Cell) -> None:
    headers = {"Accept": "text/html" if cell.page else "application/json"}
    if USERS[cell.role] is not None:
        headers["Authorization"] = f"Bearer {world.tokens[cell.role]}"
    kwargs = cell.body(world) if cell.body else {}
    response = httpx.request(
        cell.method,
        stack.url(SERVICE[cell.service]) + world.fill(cell.path),
        headers=headers,
        follow_redirects=False,
        timeout=30,
        **kwargs,
    )
    problem = cell.expect(response, world, cell.role)
    assert problem is None, f"{cell.id}: {problem}\n{response.text[:500]}"


def test_the_matrix_has_no_duplicates() -> None:
    ids = [c.id for c in MATRIX]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


# --- tokens that must open nothing: forged, revoked, deactivated ------------------------------
#
# For each service, one route any signed-in staff member of the roles used here may read: a
# token that works there before and 401 after shows that the service itself refuses it.

PROBES = {
    "intake": "/api/v1/events",
    "routing": "/api/v1/referrals",
    "notify": "/api/v1/deliveries",
    "food_distribution": "/api/v1/stock?event_id={event}",
}
#: Within this long after a sign-in ends, every service refuses its tokens (the issue's bound).
REVOCATION_BOUND_SECONDS = 15.0
OWN_PASSWORDS: dict[str, str] = {}
#: The development secret all four services once shared for HS256 tokens.
OLD_DEV_SECRET = "dev-only-auth-secret-change-me-0123456789abcdef"


def probe(stack, w: World, service: str, token: str) -> int:
    return httpx.get(
        stack.url(service) + w.fill(PROBES[service]),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=30,
    ).status_code


def refused_everywhere_within_bound(stack, w: World, token: str) -> float:
    """Seconds until all four services answer 401 to ``token`` (fails past the bound)."""
    started = time.monotonic()
    pending = set(PROBES)
    while pending and time.monotonic() - started < REVOCATION_BOUND_SECONDS + 5:
        pending = {s for s in pending if probe(stack, w, s, token) != 401}
        if pending:
            time.sleep(0.25)
    took = time.monotonic() - started
    assert not pending, f"still accepted by {sorted(pending)} after {took:.1f}s"
    assert took <= REVOCATION_BOUND_SECONDS, f"took {took:.1f}s"
    print(f"[identity] refused by all four services after {took:.1f}s", flush=True)
    return took


def claims_for(username: str, roles: list[str], audience: list[str]) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "tsunagu", "sub": username, "roles": roles, "programmes": [], "iat": now,
        "exp": now + 600, "aud": audience, "jti": uuid.uuid4().hex, "sid": uuid.uuid4().hex,
        "ver": 99, "use": "api", "csrf": "x",
    }  # fmt: skip


def forged_tokens() -> dict[str, str]:
    everyone = list(PROBES)
    ghost = claims_for("ghost", ["admin"], everyone)
    other_private, _ = generate_keypair()
    old = {k: v for k, v in ghost.items() if k not in ("aud", "jti", "sid", "ver", "use")}
    return {
        # What any service could mint before: HS256 with the shared development secret.
        "hs256-old-dev-secret": pyjwt.encode(old, OLD_DEV_SECRET, algorithm="HS256"),
        "hs256-with-claims": pyjwt.encode(ghost, OLD_DEV_SECRET, algorithm="HS256"),
        "another-ed25519-key": pyjwt.encode(ghost, load_private_key(other_private), "EdDSA"),
        "unsigned": pyjwt.encode(ghost, None, algorithm="none"),
    }


@pytest.mark.parametrize("kind", sorted(forged_tokens()))
@pytest.mark.parametrize("service", sorted(PROBES))
def test_forged_tokens_are_refused(stack, world: World, service: str, kind: str) -> None:
    token = forged_tokens()[kind]
    assert probe(stack, world, service, token) == 401


@pytest.mark.parametrize("service", ["routing", "notify", "food_distribution"])
def test_a_token_for_intake_alone_is_refused_by_the_others(
    stack, world: World, service: str
) -> None:
    data = {"username": "admin", "password": DEMO_PASSWORD, "audience": "intake"}
    data["otp"] = otp_for("admin") or ""
    response = httpx.post(stack.url("intake") + "/api/v1/auth/token", data=data, timeout=30)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert pyjwt.get_unverified_header(token)["alg"] == "EdDSA"
    assert probe(stack, world, "intake", token) == 200
    assert probe(stack, world, service, token) == 401


def test_a_logged_out_token_is_refused_by_all_four_services(stack, world: World) -> None:
    token = fresh_admin_token(stack)
    assert {s: probe(stack, world, s, token) for s in PROBES} == dict.fromkeys(PROBES, 200)
    other = fresh_admin_token(stack)  # another sign-in of the same person
    out = httpx.post(
        stack.url("intake") + "/api/v1/auth/logout",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert out.status_code == 204
    refused_everywhere_within_bound(stack, world, token)
    # Logging out ends that sign-in, not the person's others.
    assert {s: probe(stack, world, s, other) for s in PROBES} == dict.fromkeys(PROBES, 200)


def fresh_admin_token(stack) -> str:
    data = {"username": "admin", "password": DEMO_PASSWORD, "otp": otp_for("admin") or ""}
    response = httpx.post(stack.url("intake") + "/api/v1/auth/token", data=data, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def new_desk_member(stack, world: World) -> tuple[str, str, httpx.Client]:
    """A new account (intake and food desk: it may read every probe), signed in after the
    forced first password change; returns (username, token, the admin's API client) and
    keeps the password in ``OWN_PASSWORDS``."""
    admin = httpx.Client(
        base_url=stack.url("intake"),
        headers={"Authorization": f"Bearer {world.tokens['admin']}"},
        timeout=30,
    )
    username = f"leaver_{uuid.uuid4().hex[:8]}"
    first, own = "first-password-" + uuid.uuid4().hex[:6], "own-password-" + uuid.uuid4().hex[:6]
    created = admin.post(
        "/api/v1/staff",
        json={"username": username, "display_name": "退職 予定", "password": first,
              "roles": ["intake", "food_desk"], "venue_id": "bad-input"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["password_change_required"] is True
    token = change_first_password(stack.url("intake"), username, first, own)
    OWN_PASSWORDS[username] = own
    assert {s: probe(stack, world, s, token) for s in PROBES} == dict.fromkeys(PROBES, 200)
    return username, token, admin


def test_a_deactivated_users_token_is_refused_by_all_four_services(stack, world: World) -> None:
    username, token, admin = new_desk_member(stack, world)
    changed = admin.patch(f"/api/v1/staff/{username}", json={"active": False})
    assert changed.status_code == 200 and changed.json()["active"] is False
    refused_everywhere_within_bound(stack, world, token)


def test_changing_roles_ends_the_old_tokens_everywhere(stack, world: World) -> None:
    username, token, admin = new_desk_member(stack, world)
    changed = admin.patch(f"/api/v1/staff/{username}", json={"roles": ["intake"]})
    assert changed.status_code == 200 and changed.json()["roles"] == ["intake"]
    refused_everywhere_within_bound(stack, world, token)


def test_only_admins_administer_staff(stack, world: World) -> None:
    for role in ("intake", "coordinator", "auditor", "food_desk"):
        headers = {"Authorization": f"Bearer {world.tokens[role]}"}
        made = httpx.post(
            stack.url("intake") + "/api/v1/staff",
            json={"username": f"x_{role}", "display_name": "x", "password": "x" * 12,
                  "roles": ["admin"]},
            headers=headers,
        )  # fmt: skip
        assert made.status_code == 403, (role, made.status_code)
        patched = httpx.patch(
            stack.url("intake") + "/api/v1/staff/uketsuke", json={"active": False}, headers=headers
        )
        assert patched.status_code == 403, (role, patched.status_code)


def test_an_api_token_sent_as_a_cookie_does_not_slide(stack, world: World) -> None:
    api_token = world.tokens["intake"]
    page = httpx.get(
        stack.url("intake") + "/board",
        cookies={COOKIE_NAME: api_token},
        headers={"Accept": "text/html"},
        timeout=30,
    )
    assert page.status_code == 200
    assert COOKIE_NAME not in page.headers.get("set-cookie", "")


def test_twelve_guesses_from_one_address_do_not_keep_the_person_out(stack, world: World) -> None:
    username, _, _ = new_desk_member(stack, world)
    guesser = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.66"), timeout=30)
    person = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.77"), timeout=30)
    url = stack.url("intake") + "/api/v1/auth/token"
    statuses = [
        guesser.post(url, data={"username": username, "password": f"wrong-{n}"}).status_code
        for n in range(12)
    ]
    assert statuses[:4] == [401] * 4 and 429 in statuses, statuses
    started = time.monotonic()
    while True:
        answer = person.post(url, data={"username": username, "password": OWN_PASSWORDS[username]})
        if answer.status_code == 200 or time.monotonic() - started > 60:
            break
        time.sleep(1)
    assert answer.status_code == 200, answer.text
    print(f"[identity] signed in from elsewhere after {time.monotonic() - started:.1f}s")


# --- each service's database role -----------------------------------------------------------


def as_role(stack, service: str, statements: list[str]) -> list[str]:
    """Run each statement as ``service``'s own role (rolled back); returns how each ended:
    ``ok`` or the SQLSTATE."""
    import asyncio

    import asyncpg

    from tsunagu.shared.db import asyncpg_dsn

    async def run() -> list[str]:
        conn = await asyncpg.connect(asyncpg_dsn(stack.service_urls[service]))
        outcomes = []
        try:
            for statement in statements:
                tx = conn.transaction()
                await tx.start()
                try:
                    await conn.execute(statement)
                    outcomes.append("ok")
                except asyncpg.PostgresError as exc:
                    outcomes.append(str(exc.sqlstate))
                finally:
                    await tx.rollback()
        finally:
            await conn.close()
        return outcomes

    return asyncio.run(run())


INSUFFICIENT_PRIVILEGE = "42501"


@pytest.mark.parametrize("service", sorted(PROBES))
def test_each_service_role_reads_and_writes_only_its_own_schema(stack, service: str) -> None:
    own = [f"SELECT count(*) FROM {service}.inbox", f"DELETE FROM {service}.inbox WHERE false"]
    assert as_role(stack, service, own) == ["ok", "ok"]
    others = [s for s in PROBES if s != service]
    reads = [f"SELECT count(*) FROM {other}.inbox" for other in others]
    writes = [f"DELETE FROM {other}.outbox WHERE false" for other in others]
    assert as_role(stack, service, reads + writes) == [INSUFFICIENT_PRIVILEGE] * 6
    # No DDL either: the schema belongs to the owner that runs the migrations.
    ddl = [f"CREATE TABLE {service}.sneaky (x int)", f"DROP TABLE {service}.inbox"]
    assert as_role(stack, service, ddl) == [INSUFFICIENT_PRIVILEGE] * 2


@pytest.mark.parametrize("service", ["intake", "notify", "food_distribution"])
def test_each_service_may_only_append_to_its_audit_log(stack, service: str) -> None:
    log = f"{service}.audit_log"
    statements = [
        f"INSERT INTO {log} (actor, action, detail) VALUES ('t', 'test', '{{}}')",
        f"SELECT count(*) FROM {log}",
        f"UPDATE {log} SET actor = 'someone else'",
        f"UPDATE {log} SET detail = '{{}}', hash = NULL",
        f"DELETE FROM {log}",
        f"TRUNCATE {log}",
        # Only the hash chain is filled in after the entry is written.
        f"UPDATE {log} SET hash = hash, prev_hash = prev_hash, chain_seq = chain_seq",
    ]
    outcomes = as_role(stack, service, statements)
    assert outcomes == ["ok", "ok"] + [INSUFFICIENT_PRIVILEGE] * 4 + ["ok"]


def test_the_services_run_as_their_own_roles(stack) -> None:
    rows = stack.query(
        "SELECT DISTINCT application_name, usename FROM pg_stat_activity "
        "WHERE application_name = ANY($1::text[])",
        list(PROBES),
    )
    seen = {row["application_name"]: row["usename"] for row in rows}
    assert seen == {s: f"tsunagu_{s}" for s in PROBES}, seen
