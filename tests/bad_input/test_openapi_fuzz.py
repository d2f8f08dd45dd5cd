"""schemathesis against every service's OpenAPI, as the running stack serves it.

Signed in (as admin, and as the staff member an operation is for where admin is refused by
design; the token endpoint without one), no generated input, well-formed or not, may produce a
server error, a status code the document does not list, or a body that does not match the
documented schema. Path, query and body fields that name real things (a case, a referral, an
event) are sometimes set to real ones, so generated requests get past "not found" into the
handlers and the databases.

Without a token, every operation but the token endpoint answers 401; the one exception is a body
that cannot be parsed at all, which FastAPI refuses (400, or 422 ``json_invalid``) before it
looks at the token. Health, readiness, metrics and the documentation are not in the documents.

``TSUNAGU_FUZZ_EXAMPLES`` (default 25) sets the examples per operation and user for a soak.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

sys.path.insert(0, str(Path(__file__).parent))

from badinput_support import (
    case_body,
    ensure_event,
    known_to_food,
    take_in,
    token,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

SERVICES = ("intake", "routing", "notify", "food_distribution")
#: Generated requests per operation and user, positive and negative together.
MAX_EXAMPLES = int(os.environ.get("TSUNAGU_FUZZ_EXAMPLES", "25"))
#: Generated requests per operation without a token.
ANONYMOUS_EXAMPLES = 8
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

#: Operations anyone may call: getting a token is how one signs in.
PUBLIC = {("intake", "POST /api/v1/auth/token")}
#: Operations admin is refused by design (domain.md: admins manage the system, not the
#: casework), and the staff member each is for, so the fuzzing reaches the handler too.
MEANT_FOR = {
    ("intake", "POST /api/v1/cases"): "uketsuke",
    ("intake", "PATCH /api/v1/cases/{case_id}"): "uketsuke",
    ("intake", "POST /api/v1/cases/{case_id}/consent"): "uketsuke",
    ("intake", "POST /api/v1/cases/{case_id}/board-status"): "uketsuke",
    ("intake", "GET /api/v1/residents/matches"): "uketsuke",
    ("intake", "POST /api/v1/referrals/{referral_id}/respond"): "csw_participation",
}
#: At least this many operations per service: a document that lost its routes fails loudly.
MIN_OPERATIONS = {"intake": 10, "routing": 3, "notify": 5, "food_distribution": 11}


@pytest.fixture(scope="module")
def real(stack) -> dict[str, dict[str, str]]:
    """Per service, real values for fields of these names: a case of the fuzzing's own, with
    its referral, at the bad-input event; a real delivery for notify."""
    admin = httpx.Client(
        base_url=stack.url("intake"),
        headers={"Authorization": f"Bearer {token(stack, 'admin')}"},
        timeout=30,
    )
    event_id = ensure_event(stack, admin)
    intake = stack.client("intake", "uketsuke")
    case = take_in(
        intake,
        case_body(event_id, ["income_shortfall", "isolation"]),
        {"life_independence", "csw_participation"},
    )
    known_to_food(stack.client("food_distribution", "food"), case.case_id)
    deliveries = stack.client("notify", "admin").get("/api/v1/deliveries").json()
    common = {"case_id": case.case_id, "event_id": event_id}
    return {
        "intake": {**common, "referral_id": case.referrals["csw_participation"]},
        "routing": common,
        "notify": {**common, "delivery_id": deliveries[0]["delivery_id"] if deliveries else ""},
        "food_distribution": {
            **common,
            "from_event_id": event_id,
            "to_event_id": event_id,
            "venue_id": "bad-input",
            "to_venue_id": "bad-input",
        },
    }


def load(stack, service: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(stack.url(service) + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= MIN_OPERATIONS[service], [o.label for o in operations]
    return operations


def strategy(operation: Any) -> st.SearchStrategy[Any]:
    return st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )


def plant(case: Any, values: dict[str, str]) -> None:
    """Set fields named like a real thing to the real thing."""
    for where in (case.path_parameters, case.query):
        if isinstance(where, dict):
            for name in where.keys() & values.keys():
                where[name] = values[name]
    if isinstance(case.body, dict):
        for name in case.body.keys() & values.keys():
            case.body[name] = values[name]


def send(case: Any, base_url: str, headers: dict[str, str]) -> Any:
    try:
        return case.call(base_url=base_url, headers=headers, timeout=30)
    except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError):
        reject()  # not sendable over HTTP at all: no request reached the service


def fuzz(operation: Any, examples: int, run: Callable[[Any, bool], None]) -> None:
    @given(case=strategy(operation), planted=st.booleans())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def each(case: Any, planted: bool) -> None:
        run(case, planted)

    each()


def describe(error: BaseException) -> str:
    """One line per failed check: its title and the first line of its message."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe(e) for e in error.exceptions)
    title = getattr(error, "title", None) or type(error).__name__
    lines = str(getattr(error, "message", None) or error).strip().splitlines()
    return f"{title}: {' / '.join(lines[:2])}" if lines else title


def failure(case: Any, response: Any, problem: str) -> str:
    body = case.body if not isinstance(case.body, bytes | bytearray) else case.body[:200]
    return (
        f"  {case.method} {case.formatted_path} query={case.query} body={str(body)[:300]}\n"
        f"    -> {response.status_code} {response.text[:300]}\n"
        f"    {problem}"
    )


def check(case: Any, response: Any, checks: list[Any], headers: dict[str, str]) -> str | None:
    """What the checks found wrong with ``response``, if anything."""
    try:
        case.validate_response(response, checks=checks, headers=headers)
    except (Exception, BaseExceptionGroup) as error:  # schemathesis raises a BaseExceptionGroup
        return describe(error)
    return None


@pytest.mark.parametrize("service", SERVICES)
def test_no_input_breaks_the_documented_contract(stack, real, service: str) -> None:
    base_url = stack.url(service)
    tokens: dict[str, str] = {}
    found: dict[str, list[str]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for operation in load(stack, service):
        key = (service, f"{operation.method.upper()} {operation.path}")
        users: list[str | None] = [None] if key in PUBLIC else ["admin"]
        if key in MEANT_FOR:
            users.append(MEANT_FOR[key])
        for user in users:
            if user is not None and user not in tokens:
                tokens[user] = token(stack, user)
            headers = {"Authorization": f"Bearer {tokens[user]}"} if user else {}
            label = f"{key[1]} as {user or 'nobody'}"

            def run(case: Any, planted: bool, label: str = label, headers=headers) -> None:
                if planted:
                    plant(case, real[service])
                response = send(case, base_url, headers)
                counts[label] += 1
                problem = check(case, response, CHECKS, headers)
                if problem and len(found[label]) < 3:  # each is kept; the run goes on
                    found[label].append(failure(case, response, problem))

            fuzz(operation, MAX_EXAMPLES, run)
    print(f"\n{service}: {sum(counts.values())} requests, {len(counts)} operation × user")
    report = "\n".join(f"{label}:\n" + "\n".join(lines) for label, lines in found.items())
    assert not found, f"{service}: the OpenAPI contract is broken:\n{report}"


def unreadable(response: Any) -> bool:
    """A body that is not JSON at all (or not UTF-8) is refused before the token is looked at:
    FastAPI parses the body before it runs any dependency. Nothing is read or done."""
    if response.status_code == 400:
        return True
    if response.status_code != 422:
        return False
    detail = response.json().get("fields")
    return isinstance(detail, list) and all(d.get("type") == "json_invalid" for d in detail)


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_needs_a_token(stack, real, service: str) -> None:
    base_url = stack.url(service)
    found: dict[str, list[str]] = defaultdict(list)
    operations = 0
    for operation in load(stack, service):
        label = f"{operation.method.upper()} {operation.path}"
        if (service, label) in PUBLIC:
            continue
        operations += 1

        def run(case: Any, planted: bool, label: str = label) -> None:
            if planted:
                plant(case, real[service])
            response = send(case, base_url, {})
            problems = []
            if response.status_code == 401:
                if "Bearer" not in str(response.headers.get("www-authenticate")):
                    problems.append("no WWW-Authenticate: Bearer")
            elif not unreadable(response):
                problems.append(f"status {response.status_code}, not 401")
            undocumented = check(case, response, [status_code_conformance], {})
            if undocumented:
                problems.append(undocumented)
            if problems and len(found[label]) < 3:
                found[label].append(failure(case, response, "; ".join(problems)))

        fuzz(operation, ANONYMOUS_EXAMPLES, run)
    assert operations >= MIN_OPERATIONS[service] - (service == "intake")
    report = "\n".join(f"{label}:\n" + "\n".join(lines) for label, lines in found.items())
    assert not found, f"{service}: operations answer without a token:\n{report}"
