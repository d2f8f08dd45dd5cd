"""Input that grows under NFKC, on real PostgreSQL: a 422 naming the field, never a 500, and no
personal data in the answer or in any log line (SQL parameters included).

``㌀`` is one character that NFKC turns into four (``アパート``), and ``ﬃ`` turns into three
(``ffi``). A length check on the typed text lets such a value through to a column that cannot
hold it; the check must count after normalising.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from intake_helpers import App, case_body, token
from sqlalchemy import select

from tsunagu.intake.adapters.orm import tables

pytestmark = pytest.mark.integration


def _personal(tag: str) -> dict[str, str]:
    """A resident whose every detail is unique, so a leak can be found in the logs."""
    return {
        "resident__name": f"漏洩確認{tag}",
        "resident__address": f"川口市本町{tag}番地",
        "resident__phone": "080" + str(uuid.uuid4().int)[:8],
    }


def _leaks(text: str, body: dict) -> list[str]:
    resident = body["resident"]
    details = [resident["name"], resident["address"], resident["phone"], resident["name_kana"]]
    if resident.get("email"):
        details.append(resident["email"])
    # The normalised forms too: a log might hold what the service made of the input.
    details += ["アパートアパート", "ffiffiffi"]
    return [d for d in details if d and d in text]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        # 100 typed characters, 400 after NFKC: the column holds 100.
        ({"resident__name_kana": "㌀" * 100}, ["body", "resident", "name_kana"]),
        # 111 typed characters, 311 after NFKC: an address holds 254.
        ({"resident__email": "ﬃ" * 100 + "@example.jp"}, ["body", "resident", "email"]),
    ],
    ids=["furigana", "email"],
)
async def test_input_that_grows_under_nfkc_gets_422_and_leaks_nothing(
    intake_app: App,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    changes: dict,
    field: list[str],
) -> None:
    headers = await token(intake_app.client, "uketsuke")
    body = case_body(**_personal(uuid.uuid4().hex[:8]), **changes)
    caplog.set_level(logging.DEBUG)
    # SQLAlchemy logs every statement at INFO; with parameters hidden it must not show them.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine.Engine")

    response = await intake_app.client.post("/api/v1/cases", json=body, headers=headers)

    assert response.status_code == 422, response.text
    errors = response.json()["fields"]
    assert [e["loc"] for e in errors] == [field]
    assert _leaks(response.text, body) == []
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert _leaks(logged, body) == [], "personal data in the logs"
    async with intake_app.runtime.sessions() as session:
        stored = await session.scalar(
            select(tables.resident.c.resident_id).where(
                tables.resident.c.name == body["resident"]["name"]
            )
        )
    assert stored is None


async def test_a_value_that_just_fits_after_nfkc_is_stored_normalised_and_not_logged(
    intake_app: App, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    headers = await token(intake_app.client, "uketsuke")
    body = case_body(**_personal(uuid.uuid4().hex[:8]), resident__name_kana="㌀" * 25)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine.Engine")

    response = await intake_app.client.post("/api/v1/cases", json=body, headers=headers)

    assert response.status_code == 201, response.text
    async with intake_app.runtime.sessions() as session:
        kana = await session.scalar(
            select(tables.resident.c.name_kana).where(
                tables.resident.c.name == body["resident"]["name"]
            )
        )
    assert kana == "アパート" * 25  # exactly the column's 100 characters
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    # The capture did see the statements that wrote the resident ...
    assert "INSERT INTO" in logged
    # ... and none of what was written.
    assert _leaks(logged, body) == [], "personal data in the logs"
