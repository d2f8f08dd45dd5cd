"""No input makes intake answer with a server error: schemathesis against the OpenAPI document.

Runs against the app served by uvicorn (as in production), signed in as an intake staff member
so requests get past authentication into validation and the handlers.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from intake_helpers import PASSWORD, todays_event

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def bearer(served_intake: str) -> dict[str, str]:
    response = httpx.post(
        served_intake + "/api/v1/auth/token",
        data={"username": "uketsuke", "password": PASSWORD},
        timeout=10,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_no_input_produces_a_server_error(served_intake: str, bearer: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(served_intake + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        def no_server_error(case) -> None:
            if case.path == "/api/v1/cases" and isinstance(case.body, dict):
                # A real event, so that well-formed bodies get as far as the database.
                case.body["event_id"] = todays_event()
            response = case.call(base_url=served_intake, headers=bearer, timeout=15)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:500]}"
            )

        no_server_error()
