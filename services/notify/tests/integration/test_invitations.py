"""Event invitations: a CSV imported over HTTP, sent by each person's channel, opt-outs kept."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from tsunagu.notify.bootstrap import NotifyRuntime
from tsunagu.notify.domain.quiet_hours import TOKYO

from .conftest import TestClock, api, eventually

pytestmark = pytest.mark.integration

DAY = datetime(2025, 6, 3, 10, 0, tzinfo=TOKYO)
HEADER = "borrower_ref,name,name_kana,language,channel,email,phone,address,opt_out"


def event_form(event_id: str) -> dict[str, str]:
    return {
        "event_id": event_id,
        "event_date": "2025-07-05",
        "opens_at": "10:00",
        "closes_at": "15:00",
        "venue_name": "東川口駅前行政センター",
        "venue_address": "埼玉県川口市戸塚1-1-1",
    }


async def borrower_deliveries(runtime: NotifyRuntime, ref: str) -> list[dict[str, Any]]:
    d = runtime.tables.delivery
    async with runtime.sessions() as session:
        rows = await session.execute(select(d).where(d.c.recipient_ref == ref))
        return [dict(r._mapping) for r in rows.all()]


async def test_import_reports_the_malformed_row_and_invites_the_rest(start_notify, smtp, sms):
    runtime = await start_notify(
        TestClock(DAY), smtp_port=smtp.port, sms_endpoint=sms.url, sms_api_key="k"
    )
    run = uuid.uuid4().hex[:8]
    email = f"taro-{run}@example.jp"
    mobile = f"090{random.randrange(10**7, 10**8)}"
    csv = "\n".join(
        [
            HEADER,
            f"L-{run}-1,山田 太郎,やまだ たろう,ja,email,{email},,,false",
            f"L-{run}-2,佐藤 次郎,さとう じろう,en,email,not-an-address,,,false",
            f"L-{run}-3,鈴木 三郎,すずき さぶろう,ja,none,,,,true",
            f"L-{run}-4,グエン ヴァン,,vi,sms,,{mobile[:3]}-{mobile[3:7]}-{mobile[7:]},,false",
        ]
    ).encode()
    event_id = f"ev-{run}"

    async with api(runtime) as client:
        response = await client.post(
            "/api/v1/invitations/import",
            data=event_form(event_id),
            files={"file": ("borrowers.csv", csv, "text/csv")},
        )
        assert response.status_code == 200, response.text
        summary = response.json()
        assert summary["scheduled"] == 2
        assert summary["opted_out"] == 1
        assert summary["errors"] == [
            {"line": 3, "field": "email", "message": "メールアドレスの形式が正しくありません。"}
        ]

        [mail] = await eventually(lambda: _ready(smtp.mails(to=email)))
        assert mail.subject.startswith("生活困りごと相談会のご案内")
        assert "山田 太郎 様" in mail.text
        assert "東川口駅前行政センター" in mail.text
        # It links to the residents' events page, in the borrower's language.
        page_url = runtime.notify.staff_url.rstrip("/") + "/events"
        assert f"{page_url}\n" in mail.text
        [text] = await eventually(lambda: _ready(sms.to(mobile)))
        assert "Thứ Bảy, ngày 5 tháng 7 năm 2025" in text["body"]["body"]
        assert f"{page_url}?lang=vi" in text["body"]["body"]

        # The opt-out is a recorded decision, and nothing went out for it.
        [decision] = await borrower_deliveries(runtime, f"L-{run}-3")
        assert (decision["status"], decision["reason"]) == ("suppressed", "opted_out")
        o = runtime.tables.opt_out
        async with runtime.sessions() as session:
            recorded = (
                await session.execute(select(o).where(o.c.borrower_ref == f"L-{run}-3"))
            ).first()
        assert recorded is not None
        # The details are sealed at rest.
        [invited] = await borrower_deliveries(runtime, f"L-{run}-1")
        assert email not in invited["contact_sealed"]

        # The same list again: nobody is invited twice. A later list that forgets the
        # opt-out does not override it.
        again = csv.replace(
            f"L-{run}-3,鈴木 三郎,すずき さぶろう,ja,none,,,,true".encode(),
            f"L-{run}-3,鈴木 三郎,すずき さぶろう,ja,email,saburo-{run}@example.jp,,,false".encode(),
        )
        response = await client.post(
            "/api/v1/invitations/import",
            data=event_form(event_id),
            files={"file": ("borrowers.csv", again, "text/csv")},
        )
        second = response.json()
        assert (second["scheduled"], second["already_scheduled"], second["opted_out"]) == (0, 2, 1)
        await asyncio.sleep(1.0)
        assert len(smtp.mails(to=email)) == 1
        assert smtp.mails(to=f"saburo-{run}@example.jp") == []

        # The upload page: the same import, for staff, in Japanese.
        page = await client.get("/invitations")
        assert page.status_code == 200 and "CSV ファイル" in page.text
        result = await client.post(
            "/invitations",
            data=event_form(f"ev-{run}-page"),
            files={"file": ("borrowers.csv", csv, "text/csv")},
        )
        assert result.status_code == 200
        assert "2 人に案内を予定しました" in result.text
        assert "3 行目" in result.text


async def _ready(value: Any) -> Any:
    return value
