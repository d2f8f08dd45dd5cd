"""A resident's rights on the whole running system (ADR 12): taken through everything, disclosed,
erased; afterwards no table of any service and no topic (dead-letter topics included) holds
their name, furigana, phone or email, or staff's words on their decline and close, readably;
the counts are unchanged (their household, which the food desk linked with another member's,
still counted once), and replaying their old events brings nothing back."""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from stack import Stack, wait_for

from tsunagu.intake.domain.case_input import EXAMPLE_BODY
from tsunagu.intake.service_layer.staff import event_id_for
from tsunagu.shared.broker import PRODUCER_OPTIONS
from tsunagu.shared.contracts.envelope import Envelope, new_id
from tsunagu.shared.contracts.topics import (
    INTAKE_CASE,
    ROUTING_CASE,
    all_topic_names,
    consumed_by,
)
from tsunagu.shared.internal import caller_headers
from tsunagu.shared.settings import Settings
from tsunagu.shared.testing import read_records

pytestmark = pytest.mark.integration

SCHEMAS = ("intake", "routing", "notify", "food_distribution")
NAME, KANA = "鴻巣 紗也加", "こうのす さやか"
PHONE = "09071824635"
EMAIL = "sayaka.konosu.erasure@example.jp"
ADDRESS = "埼玉県鴻巣市本町9-8-7"
#: Staff's own words beside the code lists: they may name the resident, so they travel and
#: rest sealed with the resident's record key, and are erased with it.
DECLINE_WORDS = "長女の転居先が決まるまで就労支援は見合わせたいと本人談"
OUTCOME_WORDS = "家計改善計画を立て三度の面談で滞納の見通しが立ったため終結"


def needles() -> dict[str, list[bytes]]:
    """Each identifying value as it could sit in a row or a message: UTF-8, JSON-escaped,
    Shift_JIS / EUC-JP, PostgreSQL's hex for bytes, and the spellings stored for search."""
    values = {
        "name": [NAME, NAME.replace(" ", "")],
        "furigana": [KANA, KANA.replace(" ", ""), "コウノス サヤカ"],
        "phone": [PHONE, "090-7182-4635", "+819071824635", "71824635"],
        "email": [EMAIL],
        "decline reason": [DECLINE_WORDS, DECLINE_WORDS[:12]],
        "outcome": [OUTCOME_WORDS, OUTCOME_WORDS[:12]],
    }
    out: dict[str, list[bytes]] = {}
    for what, spellings in values.items():
        forms: list[bytes] = []
        for s in spellings:
            forms += [s.encode(), json.dumps(s)[1:-1].encode(), s.encode().hex().encode()]
            for codec in ("cp932", "euc_jp"):
                encoded = s.encode(codec)
                if encoded != s.encode():
                    forms.append(encoded)
        out[what] = forms
    return out


def found_in(blob: bytes) -> list[str]:
    return [what for what, forms in needles().items() if any(f in blob for f in forms)]


def scan_tables(stack: Stack) -> dict[str, list[str]]:
    """Every row of every table of every service, as text."""
    hits: dict[str, list[str]] = {}
    tables = stack.query(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema = ANY($1::text[]) AND table_type = 'BASE TABLE'",
        list(SCHEMAS),
    )
    assert len(tables) > 20
    for t in tables:
        name = f'"{t["table_schema"]}"."{t["table_name"]}"'
        for row in stack.query(f"SELECT r::text AS row FROM {name} r"):
            what = found_in(row["row"].encode())
            if what:
                hits.setdefault(name, []).extend(what)
    return hits


async def _read_all(bootstrap: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {topic: [] for topic in all_topic_names()}
    for record in await read_records(bootstrap, *all_topic_names(), must_exist=True):
        out[record.topic].append(record)
    return out


def read_all_topics(stack: Stack) -> dict[str, list[Any]]:
    return asyncio.run(_read_all(stack.infra.kafka_bootstrap))


def scan_topics(messages: dict[str, list[Any]]) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for topic, msgs in messages.items():
        for m in msgs:
            blob = (m.value or b"") + (m.key or b"")
            blob += b"".join(k.encode() + v for k, v in (m.headers or ()))
            what = found_in(blob)
            if what:
                hits.setdefault(topic, []).extend(what)
    return hits


async def _publish(bootstrap: str, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_OPTIONS)  # type: ignore[arg-type]
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def counts(stack: Stack, case_id: str, event_id: str) -> dict[str, int]:
    """What the council counts: cases, referrals, messages, parcels, report facts."""
    one = {
        "intake cases at the event": "SELECT count(*) FROM intake.case WHERE event_id = $1",
        "report case facts": "SELECT count(*) FROM intake.report_case WHERE $1 <> ''",
        "report household links": (
            "SELECT count(*) FROM intake.report_household_link WHERE $1 <> ''"
        ),
        "food handouts at the event": (
            "SELECT count(*) FROM food_distribution.handout WHERE event_id = $1"
        ),
        "food eligibility at the event": (
            "SELECT count(*) FROM food_distribution.eligibility WHERE event_id = $1"
        ),
    }
    per_case = {
        "routing referrals": "SELECT count(*) FROM routing.referral WHERE case_id = $1",
        "routing decisions": "SELECT count(*) FROM routing.decision WHERE case_id = $1",
        "notify deliveries": "SELECT count(*) FROM notify.delivery WHERE case_id = $1",
        "notify letters": "SELECT count(*) FROM notify.letter WHERE case_id = $1",
    }
    out = {k: stack.query(q, event_id)[0][0] for k, q in one.items()}
    out |= {k: stack.query(q, case_id)[0][0] for k, q in per_case.items()}
    return out


@pytest.mark.timeout(900)
def test_a_resident_disclosed_then_erased_everywhere(stack: Stack) -> None:
    intake = stack.client("intake", "uketsuke")
    admin = stack.client("intake", "admin")
    food = stack.client("food_distribution", "food")
    event_id = event_id_for(stack.today, "aeon-mall")

    # --- taken in: referrals, team and resident messages, a letter, a handout ----------------
    body = copy.deepcopy(EXAMPLE_BODY)
    body["event_id"] = event_id
    body["resident"] |= {
        "name": NAME, "name_kana": KANA, "phone": PHONE, "email": EMAIL, "address": ADDRESS,
    }  # fmt: skip
    body["consent"] |= {"contact_channels": ["letter"], "contact_time": "any"}
    created = intake.post("/api/v1/cases", json=body)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    case = intake.get(f"/api/v1/cases/{case_id}").json()
    resident_id = case["resident_id"]

    referrals = wait_for(
        lambda: intake.get(f"/api/v1/cases/{case_id}").json()["referrals"],
        what="referrals in intake",
    )
    programmes = {r["programme"]: r["referral_id"] for r in referrals}
    team = stack.client("intake", "csw_participation")
    accepted = team.post(
        f"/api/v1/referrals/{programmes['csw_participation']}/respond", json={"action": "accept"}
    )
    assert accepted.status_code == 202, accepted.text

    # --- staff's words beside the codes: a decline's reason, a close's outcome ----------------
    def status_of(programme: str) -> str | None:
        view = intake.get(f"/api/v1/cases/{case_id}").json()
        return next((r["status"] for r in view["referrals"] if r["programme"] == programme), None)

    def respond(client: httpx.Client, programme: str, body: dict[str, str], then: str) -> None:
        sent = client.post(f"/api/v1/referrals/{programmes[programme]}/respond", json=body)
        assert sent.status_code == 202, sent.text
        wait_for(lambda: status_of(programme) == then, what=f"{programme} {then}")

    wait_for(lambda: status_of("csw_participation") == "accepted", what="accepted")
    respond(team, "csw_participation", {"action": "start"}, "in_progress")
    respond(
        team,
        "csw_participation",
        {"action": "close", "outcome_code": "resolved", "outcome": OUTCOME_WORDS},
        "closed",
    )
    declining = next(p for p in sorted(programmes) if p != "csw_participation")
    respond(
        stack.client("intake", declining),
        declining,
        {"action": "decline", "reason_code": "resident_declined", "reason": DECLINE_WORDS},
        "declined",
    )

    receipt = food.post(
        "/api/v1/stock/receipts",
        json={
            "event_id": event_id, "venue_id": "aeon-mall", "parcel_type": "standard",
            "quantity": 5, "source": "フードバンク鴻巣",
        },
    )  # fmt: skip
    assert receipt.status_code == 201, receipt.text
    wait_for(
        lambda: food.get(f"/api/v1/eligibility/{case_id}").json().get("eligible"),
        what="food eligibility",
    )
    handout = food.post("/api/v1/handouts", json={"case_id": case_id, "parcel_type": "standard"})
    assert handout.status_code == 201, handout.text

    # --- a member of their household taken in separately: the desk links the two (ADR 33) ----
    member_body = copy.deepcopy(EXAMPLE_BODY)
    member_body["event_id"] = event_id
    member = intake.post("/api/v1/cases", json=member_body)
    assert member.status_code == 201, member.text
    member_id = member.json()["case_id"]
    wait_for(
        lambda: food.get(f"/api/v1/eligibility/{member_id}").json().get("eligible"),
        what="the member's food eligibility",
    )
    member_parcel = food.post(
        "/api/v1/handouts", json={"case_id": member_id, "parcel_type": "standard"}
    )
    assert member_parcel.status_code == 201, member_parcel.text
    served = wait_for(lambda: households_served(stack, admin, event_id), what="parcels reported")
    linked = food.post(
        "/api/v1/households/links",
        json={"case_id": case_id, "with_case_number": member.json()["case_number"]},
    )
    assert linked.status_code == 200, linked.text
    served -= 1  # the two households are one in intake's reports from now on
    wait_for(lambda: households_served(stack, admin, event_id) == served, what="the link reported")

    wait_for(
        lambda: stack.query("SELECT 1 FROM notify.letter WHERE case_id = $1", case_id),
        what="a letter to the resident",
    )
    wait_for(lambda: stack.smtp.messages, what="team mail")
    # The food desk shows the furigana, opened with the resident's kana key.
    found = food.get("/api/v1/cases", params={"event_id": event_id, "q": "こうのす"}).json()
    assert [h["name_kana"] for h in found] == [KANA]

    # --- one of their events in a dead-letter topic ------------------------------------------
    original = next(
        m
        for m in read_all_topics(stack)[INTAKE_CASE.name]
        if m.key == case_id.encode() and b'"case_created"' in m.value
    )
    poison = json.loads(original.value)
    poison |= {"event_id": new_id(), "schema_version": 99}
    asyncio.run(
        _publish(stack.infra.kafka_bootstrap, [(INTAKE_CASE.name, original.key, json.dumps(poison).encode())])
    )  # fmt: skip
    wait_for(
        lambda: any(
            m.key == case_id.encode() for m in read_all_topics(stack).get(INTAKE_CASE.dlq, [])
        ),
        what="the event in the DLQ",
    )

    # --- disclosure, taken before the erasure ------------------------------------------------
    disclosed = admin.get(f"/api/v1/residents/{resident_id}/disclosure", params={"format": "json"})
    assert disclosed.status_code == 200, disclosed.text
    held = disclosed.json()["services"]
    assert held["intake"]["resident"]["name"] == NAME
    assert [c["case_id"] for c in held["intake"]["cases"]] == [case_id]
    assert {r["programme"] for r in held["routing"]["referrals"]} == set(programmes)
    assert held["routing"]["decisions"][0]["case_id"] == case_id
    assert held["notify"]["contacts"][0]["contact"]["email"] == EMAIL
    assert held["notify"]["letters"] and held["notify"]["deliveries"]
    assert held["food_distribution"]["case_index"][0]["name_kana"] == KANA
    assert len(held["food_distribution"]["handouts"]) == 1
    # Staff's words, held sealed by routing and intake, are disclosed as they read.
    held_by_routing = {r["programme"]: r for r in held["routing"]["referrals"]}
    assert held_by_routing[declining]["reason"] == DECLINE_WORDS
    assert held_by_routing["csw_participation"]["outcome"] == OUTCOME_WORDS
    assert DECLINE_WORDS in json.dumps(held["intake"], ensure_ascii=False, default=str)
    page = admin.get(f"/api/v1/residents/{resident_id}/disclosure")
    assert page.status_code == 200 and "保有個人データの開示" in page.text and NAME in page.text
    for heading in ("受付", "振り分け", "連絡", "食料品配布"):
        assert heading in page.text
    assert stack.query(
        "SELECT 1 FROM intake.audit_log WHERE action = 'resident.disclosure' AND target = $1",
        resident_id,
    )
    assert uketsuke_refused(intake, resident_id)

    # The scan sees plain text where it is held (intake's own resident row), so zero hits
    # after the erasure means something. Staff's words are readable only where intake opens
    # them to show the case; on the bus and in every table they are sealed, codes in clear.
    shown = intake.get(f"/api/v1/cases/{case_id}").json()
    assert set(found_in(json.dumps(shown["referrals"], ensure_ascii=False).encode())) == {
        "decline reason",
        "outcome",
    }
    by_programme = {r["programme"]: r for r in shown["referrals"]}
    assert by_programme[declining]["reason"] == DECLINE_WORDS
    assert by_programme[declining]["reason_code"] == "resident_declined"
    assert by_programme["csw_participation"]["outcome"] == OUTCOME_WORDS
    assert by_programme["csw_participation"]["outcome_code"] == "resolved"
    in_transit = read_all_topics(stack)
    assert not {"decline reason", "outcome"} & {
        what for hits in scan_topics(in_transit).values() for what in hits
    }
    assert not {"decline reason", "outcome"} & {
        what for hits in scan_tables(stack).values() for what in hits
    }
    changed = [
        Envelope.from_bytes(m.value).data
        for m in in_transit[ROUTING_CASE.name]
        if m.key == case_id.encode() and b'"referral_status_changed"' in m.value
    ]
    assert any(
        (d.get("reason_sealed") or "").startswith(f"rk1:{resident_id}:record:")
        and d["reason_code"] == "resident_declined"
        for d in changed
    )
    assert any(
        (d.get("outcome_sealed") or "").startswith(f"rk1:{resident_id}:record:")
        and d["outcome_code"] == "resolved"
        for d in changed
    )
    before = counts(stack, case_id, event_id)
    assert set(scan_tables(stack).get('"intake"."resident"', [])) == {
        "name",
        "furigana",
        "phone",
        "email",
    }

    # --- erasure -------------------------------------------------------------------------------
    erased = admin.post(
        f"/api/v1/residents/{resident_id}/erasure", json={"reason": "本人からの消去請求"}
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["cases"] == 1
    for schema in SCHEMAS:
        wait_for(
            lambda schema=schema: stack.query(
                f"SELECT 1 FROM {schema}.erased_case WHERE case_id = $1", case_id
            ),
            what=f"{schema} erased the case",
        )

    assert intake.get(f"/api/v1/cases/{case_id}").status_code == 404
    listed = admin.get("/api/v1/cases", params={"event_id": event_id}).json()["items"]
    assert case_id not in {c["case_id"] for c in listed}
    assert scan_tables(stack) == {}
    messages = read_all_topics(stack)
    assert any(m.key == case_id.encode() for m in messages[INTAKE_CASE.dlq])
    assert scan_topics(messages) == {}
    # The sealed copies that remain (topics, DLQ, outboxes) cannot be opened: no key is left.
    settings = Settings(service="notify", env="test")
    gone = httpx.get(
        f"{stack.url('intake')}/internal/v1/keys/{resident_id}/contact",
        headers=caller_headers(settings),
    )
    assert gone.status_code == 410
    assert food.get("/api/v1/cases", params={"event_id": event_id, "q": "こうのす"}).json() == []
    assert counts(stack, case_id, event_id) == before
    assert households_served(stack, admin, event_id) == served

    # --- replaying every old event of the case recreates nothing ------------------------------
    replay = []
    for topic, msgs in messages.items():
        for m in msgs:
            if m.key == case_id.encode() and not topic.endswith(".dlq"):
                envelope = Envelope.from_bytes(m.value)
                if envelope.event_type == "resident_erased" or envelope.schema_version != 1:
                    continue  # the erasure itself, and the poison sent above
                again = envelope.model_copy(update={"event_id": str(uuid.uuid4())})
                replay.append((topic, m.key, again.to_bytes()))
    assert len(replay) >= 5
    asyncio.run(_publish(stack.infra.kafka_bootstrap, replay))
    for service in SCHEMAS:
        ids = {
            Envelope.from_bytes(value).event_id
            for topic, _, value in replay
            if topic in {t.name for t in consumed_by(service)}
        }

        def applied(service: str = service, ids: set[str] = ids) -> bool:
            rows = stack.query(
                f"SELECT event_id FROM {service}.inbox WHERE event_id = ANY($1::text[])",
                sorted(ids),
            )
            return {r["event_id"] for r in rows} >= ids

        wait_for(applied, what=f"{service} consumed the replay")
    time.sleep(2)  # the notify sender, food and intake have had their chance to act on it
    assert not stack.query("SELECT 1 FROM notify.case_contact WHERE case_id = $1", case_id)
    assert (
        stack.query(
            "SELECT kana_sealed FROM food_distribution.case_index WHERE case_id = $1", case_id
        )[0][0]
        is None
    )
    assert scan_tables(stack) == {}
    assert counts(stack, case_id, event_id) == before
    assert households_served(stack, admin, event_id) == served
    assert intake.get(f"/api/v1/cases/{case_id}").status_code == 404


def households_served(stack: Stack, admin: httpx.Client, event_id: str) -> int | None:
    """Households served at the event in intake's report, once the report has every parcel
    food handed out there (None before)."""
    handed_out = stack.query(
        "SELECT count(*) FROM food_distribution.handout WHERE event_id = $1", event_id
    )[0][0]
    report = admin.get(f"/api/v1/reports/events/{event_id}")
    assert report.status_code == 200, report.text
    food = report.json()["food"]
    return food["households_served"] if food["parcels_total"] == handed_out else None


def uketsuke_refused(client: httpx.Client, resident_id: str) -> bool:
    """Intake staff may neither take a disclosure nor erase."""
    a = client.get(f"/api/v1/residents/{resident_id}/disclosure")
    b = client.post(f"/api/v1/residents/{resident_id}/erasure", json={"reason": "x"})
    return a.status_code == 403 and b.status_code == 403
