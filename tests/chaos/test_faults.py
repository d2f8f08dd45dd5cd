"""Faults of the infrastructure, on a three-node Kafka cluster and PostgreSQL, with the four
services as processes: nothing lost, nothing done twice, no dead letter for a transient fault,
and every service holding the consent change made during the fault.

(a) PostgreSQL's postmaster SIGKILLed mid-backlog, restarted 20 s later;
(b) PostgreSQL hung for 60 s: every one of its processes SIGSTOPped, then SIGCONTed. Nothing is
    refused or reset, connections and statements just hang; the services' connect and
    statement timeouts make that a transient fault, waited out;
(b2) PostgreSQL shut down (immediate) for 60 s, then started: connections refused;
(c) the broker leading a partition SIGKILLed, then the KRaft controller (one at a time);
(d) the dead-letter publish refused by the broker while a poison message arrives.

Each fault takes a burst of cases (TSUNAGU_CHAOS_FAULT_CASES, default 60), more cases offered
during the fault, a consent withdrawal made during it and a parcel handed out to every eligible
household of the burst while it lasts; then prints one count line. The outage lengths are
TSUNAGU_CHAOS_PG_KILL_SECONDS (20) and TSUNAGU_CHAOS_PG_DOWN_SECONDS (60).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import socket
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from cases import case_body, expected, new_key
from chaos_kit import dlq_size, memory_line, submit, total_lag
from stack import SignedIn, Stack, build_stack, teardown_stack, wait_for

from tsunagu.shared.contracts.topics import ALL_TOPICS, INTAKE_CASE

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.timeout(2400)]

CASES = int(os.environ.get("TSUNAGU_CHAOS_FAULT_CASES", "60"))
PG_KILL_SECONDS = float(os.environ.get("TSUNAGU_CHAOS_PG_KILL_SECONDS", "20"))
PG_DOWN_SECONDS = float(os.environ.get("TSUNAGU_CHAOS_PG_DOWN_SECONDS", "60"))
SEED = int(os.environ.get("TSUNAGU_CHAOS_SEED", str(int(time.time()))))
WORKERS = 6
CASE_NUMBER = re.compile(r"K-\d{8}-\d{4,}")
POISON = b"{not json"
#: Every consumer group reading intake.case.v1 (intake reads it twice: for its report facts
#: under a group of its own), from the topic registry: each dead-letters the poison once.
CASE_GROUPS = frozenset(next(t for t in ALL_TOPICS if t.name == INTAKE_CASE.name).groups)


@dataclass
class Day:
    """What the faults share: the stack, the event, who is logged in, what was taken in."""

    stack: Stack
    rng: random.Random
    event: dict[str, Any]
    token: SignedIn
    food_token: SignedIn
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)  # case id -> body
    handed: dict[str, int] = field(default_factory=dict)  # case id -> answers 200/201/409
    #: Cases whose consent a fault withdrew: food drops their eligibility (it keeps only what
    #: a handout recorded), so they are not expected to hold one.
    withdrawn: set[str] = field(default_factory=set)
    index: int = 0

    @property
    def event_date(self) -> date:
        return date.fromisoformat(self.event["date"])

    def bodies(self, count: int) -> list[dict[str, Any]]:
        out = [
            case_body(self.rng, self.event["event_id"], index=self.index + i) for i in range(count)
        ]
        self.index += count
        return out

    def take_in(self, bodies: list[dict[str, Any]], deadline: float) -> list[str]:
        with ThreadPoolExecutor(WORKERS) as pool:
            ids = list(pool.map(lambda b: submit(self.stack, self.token, b, deadline), bodies))
        assert all(ids), "every case was eventually accepted by intake"
        self.cases.update(zip(ids, bodies, strict=True))  # type: ignore[arg-type]
        return ids  # type: ignore[return-value]


@pytest.fixture(scope="module")
def day():
    stack = build_stack("faults", kafka_brokers=3, durable=True)
    try:
        stack.start_all()
        intake = stack.client("intake", "uketsuke")
        events = intake.get("/api/v1/events").json()
        events = events.get("items", events) if isinstance(events, dict) else events
        event = events[0]
        food = stack.client("food_distribution", "food")
        receipt = food.post(
            "/api/v1/stock/receipts",
            json={"event_id": event["event_id"], "venue_id": event["venue_id"],
                  "parcel_type": "standard", "quantity": 100_000, "source": "フードバンク"},
        )  # fmt: skip
        assert receipt.status_code in (200, 201), receipt.text
        day = Day(
            stack, random.Random(SEED), event, stack.signed_in("uketsuke"), stack.signed_in("food")
        )
        started = time.monotonic()
        yield day
        print(
            f"\nchaos-faults-total: seed={SEED} cases={len(day.cases)} "
            f"wall={time.monotonic() - started:.0f}s dead_letters_total={dlq_size(stack)} "
            f"{memory_line(stack)}"
        )
    finally:
        teardown_stack(stack)


# --- the run every fault shares ---------------------------------------------------------------


def withdraw(day: Day, case_id: str, deadline: float) -> None:
    """Withdraw consent (one Idempotency-free retry loop through 503s and restarts)."""
    while time.monotonic() < deadline:
        try:
            r = httpx.post(
                day.stack.url("intake") + f"/api/v1/cases/{case_id}/consent",
                json={"action": "withdraw"},
                headers={"Authorization": f"Bearer {day.token}"},
                timeout=15,
            )
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if r.status_code == 200:
            return
        assert r.status_code in (500, 502, 503, 504), f"{r.status_code} {r.text[:300]}"
        time.sleep(0.5)
    raise AssertionError("the consent change was never accepted")


def hand_out(day: Day, case_id: str, deadline: float) -> None:
    key = new_key()
    while time.monotonic() < deadline:
        try:
            r = httpx.post(
                day.stack.url("food_distribution") + "/api/v1/handouts",
                json={"case_id": case_id, "parcel_type": "standard"},
                headers={"Authorization": f"Bearer {day.food_token}", "Idempotency-Key": key},
                timeout=15,
            )
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if r.status_code == 409 and "not_eligible" in r.text:
            key = new_key()  # food has not heard of the eligibility yet: ask again later
        elif r.status_code < 500 and r.status_code not in (404, 429):
            day.handed[case_id] = r.status_code  # 201, or a refusal the check reports
            return
        time.sleep(0.5)  # 404 until food has the case, 503 while its database is away
    raise AssertionError("a handout never answered")


def a_shared_case(day: Day) -> str:
    """A case taken in earlier, shared on consent, whose consent is still given."""
    ids = list(day.cases)
    day.rng.shuffle(ids)
    withdrawn = {r[0] for r in day.stack.query(
        "SELECT case_id FROM intake.\"case\" WHERE consent_basis = 'none'")}  # fmt: skip
    for cid in ids:
        if day.cases[cid]["consent"]["basis"] == "consent" and cid not in withdrawn:
            return cid
    raise AssertionError("no shared case to withdraw consent from")


def run_fault(
    day: Day, name: str, fault: Callable[[], dict[str, Any]], *, poison: bytes | None = None
) -> None:
    """A burst, then ``fault`` while more cases, a consent withdrawal and the burst's handouts
    go on; then drain and check everything."""
    stack = day.stack
    if not day.cases:  # a first burst, fully handled, to change consent on
        day.take_in(day.bodies(10), time.monotonic() + 300)
        wait_drained(day, list(day.cases))
    dead_before = dlq_size(stack)
    target = a_shared_case(day)
    t0 = time.monotonic()
    burst = day.take_in(day.bodies(CASES), time.monotonic() + 600)
    eligible = [cid for cid in burst if expected(day.cases[cid], day.event_date)["food"]]

    deadline = time.monotonic() + 300
    during = day.bodies(max(5, CASES // 4))
    with ThreadPoolExecutor(3) as side:
        faulting = side.submit(fault)
        time.sleep(1.0)  # the fault has begun: the rest happens while it lasts
        offered = side.submit(day.take_in, during, deadline)
        changed = side.submit(withdraw, day, target, deadline)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda cid: hand_out(day, cid, deadline), eligible))
        details = faulting.result()
        offered.result()
        changed.result()
        day.withdrawn.add(target)
    ids = list(day.cases)
    drained = wait_drained(day, ids)
    report = check(day, ids, target, eligible)
    dead = dlq_size(stack) - dead_before
    if poison is None:
        assert dead == 0, f"{dead} dead letters for a transient fault"
    else:
        letters = asyncio.run(_read(stack.infra.kafka_bootstrap, INTAKE_CASE.name + ".dlq"))
        assert [value for value, _ in letters] == [poison] * dead, "the poison alone"
        consumers = [headers["dlq-consumer"] for _, headers in letters]
        assert sorted(consumers) == sorted(CASE_GROUPS), "once per consumer group"
    print(
        f"\nchaos-fault: fault={name} seed={SEED} cases={len(burst) + len(during)} "
        f"({len(during)} offered during the fault) {_fmt(details)} "
        f"referrals={report['referrals']} lost=0 duplicated_referrals=0 duplicated_emails=0 "
        f"duplicated_handouts=0 smtp_resends_deduplicated_by_message_id={report['resent']} "
        f"handouts={report['handouts']} dead_letters={dead} (poison {'yes' if poison else 'no'}) "
        f"consent_held=intake,routing,notify,food_distribution time_to_drain={drained:.0f}s "
        f"total={time.monotonic() - t0:.0f}s lag=0"
    )


def wait_drained(day: Day, ids: list[str]) -> float:
    stack, started = day.stack, time.monotonic()
    exp = {cid: expected(day.cases[cid], day.event_date) for cid in ids}
    shared = [cid for cid in ids if cid not in day.withdrawn]
    want_eligible = sum(exp[cid]["food"] for cid in shared)

    def caught_up() -> bool:
        routed = stack.query("SELECT count(*) FROM routing.decision WHERE case_id = ANY($1)", ids)
        eligible = stack.query(
            "SELECT count(*) FROM food_distribution.eligibility WHERE case_id = ANY($1)", shared
        )
        unsent = sum(
            stack.query(f"SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL")[0][0]
            for s in ("intake", "routing", "notify", "food_distribution")
        )
        return routed[0][0] == len(ids) and eligible[0][0] == want_eligible and unsent == 0

    wait_for(caught_up, timeout=600, interval=2, what="the stack to drain")
    wait_for(lambda: total_lag(stack) == 0, timeout=300, interval=2, what="consumer lag 0")
    return time.monotonic() - started


def check(day: Day, ids: list[str], target: str, eligible: list[str]) -> dict[str, int]:
    stack = day.stack
    exp = {cid: expected(day.cases[cid], day.event_date) for cid in ids}
    decisions = stack.query(
        "SELECT case_id, count(*) FROM routing.decision WHERE case_id = ANY($1) GROUP BY case_id",
        ids,
    )
    assert len(decisions) == len(ids), "every accepted case routed (lost 0)"
    assert all(n == 1 for _, n in decisions), "routed once"
    referrals = stack.query(
        "SELECT case_id, programme, count(*) FROM routing.referral WHERE case_id = ANY($1)"
        " GROUP BY case_id, programme",
        ids,
    )
    assert all(n == 1 for _, _, n in referrals), "no referral twice"
    got: dict[str, set[str]] = {}
    for cid, programme, _ in referrals:
        got.setdefault(cid, set()).add(programme)
    wrong = [cid for cid in ids if got.get(cid, set()) != exp[cid]["programmes"]]
    assert not wrong, f"{len(wrong)} cases have other referrals than their rules give"

    # Every team message owed is sent (none left scheduled or being sent), and each sent team
    # delivery is one email (its Message-ID), however often a fault interrupted its sending.
    pending_sql = (
        "SELECT status, lease_token IS NOT NULL, attempts, last_error,"
        " round(extract(epoch FROM next_attempt_at - now())) FROM notify.delivery"
        " WHERE case_id = ANY($1) AND recipient_kind = 'team'"
        " AND status IN ('scheduled', 'sending', 'transient_failure')"
    )
    owed: list[Any] = []

    def all_sent() -> bool:
        owed[:] = stack.query(pending_sql, ids)
        return not owed

    try:
        wait_for(all_sent, timeout=180, interval=2, what="every team mail sent")
    except AssertionError:
        # What is still owed says where it waits (status, leased, attempts, last error, due
        # in seconds): a lease, a retry, or a sender that stopped looking.
        raise AssertionError(f"team mail still owed after 180 s: {owed[:10]}") from None
    new_referrals = stack.query(
        "SELECT count(*) FROM notify.delivery WHERE case_id = ANY($1)"
        " AND recipient_kind = 'team' AND template = 'new_referral'",
        ids,
    )[0][0]
    assert new_referrals >= sum(len(e["shared"]) for e in exp.values()) > 0
    numbers = {r[0] for r in stack.query(
        "SELECT case_number FROM routing.decision WHERE case_id = ANY($1)", ids)}  # fmt: skip
    team_mail = [m for m in stack.smtp.messages
                 if "@team." in str(m["To"]) and _case_number(m) in numbers]  # fmt: skip
    per_id = Counter(str(m["Message-ID"]) for m in team_mail)
    # New referrals, and the withdrawal told to the teams: each sent delivery is one email.
    sent = stack.query(
        "SELECT count(*) FROM notify.delivery WHERE case_id = ANY($1)"
        " AND recipient_kind = 'team' AND status = 'sent'",
        ids,
    )[0][0]
    assert len(per_id) == sent, "one team email per team delivery"
    acks = stack.query(
        "SELECT case_id, count(*) FROM notify.delivery WHERE case_id = ANY($1)"
        " AND recipient_kind = 'resident' AND template = 'acknowledgement'"
        " AND status <> 'suppressed' GROUP BY case_id",
        ids,
    )
    assert all(n == 1 for _, n in acks), "one acknowledgement per resident"

    handouts = stack.query(
        "SELECT case_id, count(*) FROM food_distribution.handout WHERE case_id = ANY($1)"
        " GROUP BY case_id",
        ids,
    )
    assert all(n == 1 for _, n in handouts), "no household served twice"
    unserved = set(eligible) - {cid for cid, _ in handouts}
    answers = Counter(day.handed.get(cid) for cid in unserved)
    assert not unserved, f"eligible households not served: {len(unserved)}, answers {answers}"

    # The consent withdrawal made during the fault, held by every service: intake, routing and
    # notify keep the consent; food keeps when the withdrawal reached the desk (ADR 24).
    def consent_everywhere() -> bool:
        held = [
            stack.query('SELECT consent_basis FROM intake."case" WHERE case_id = $1', target),
            stack.query("SELECT sharing_basis FROM routing.decision WHERE case_id = $1", target),
            stack.query("SELECT sharing_basis FROM notify.case_contact WHERE case_id = $1", target),
        ]
        food = stack.query(
            "SELECT withdrawn_at FROM food_distribution.case_index WHERE case_id = $1", target
        )
        basis_none = all(rows and rows[0][0] == "none" for rows in held)
        return basis_none and bool(food) and food[0][0] is not None

    wait_for(consent_everywhere, timeout=120, interval=1, what="the consent change everywhere")
    return {
        "referrals": sum(n for _, _, n in referrals),
        "resent": sum(n - 1 for n in per_id.values()),
        "handouts": sum(n for _, n in handouts),
    }


def _log_events(stack: Stack, service: str, since: str) -> list[dict[str, Any]]:
    """The service's JSON log lines from ``since`` (an ISO time in UTC) on."""
    events = []
    for line in (stack.log_dir / f"{service}.log").read_text(errors="replace").splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if str(event.get("timestamp", "")) >= since:
                    events.append(event)
    return events


def _not_ready(stack: Stack, service: str) -> int:
    """The service's /readyz answer while the database hangs: 503 (it says so in time)."""
    r = httpx.get(stack.url(service) + "/readyz", timeout=30)
    assert r.status_code == 503, f"/readyz said {r.status_code} while PostgreSQL hung"
    return r.status_code


def _case_number(message: Any) -> str | None:
    found = CASE_NUMBER.search(str(message["Subject"]))
    return found.group(0) if found else None


def _fmt(details: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in details.items())


# --- the faults ---------------------------------------------------------------------------------


def test_a_postgres_killed_mid_backlog_and_restarted_20s_later(day: Day) -> None:
    postgres = day.stack.infra.postgres
    assert postgres is not None

    def fault() -> dict[str, Any]:
        postgres.kill()
        time.sleep(PG_KILL_SECONDS)
        postgres.restart_after_crash()
        return {"postgres": f"SIGKILL+{PG_KILL_SECONDS:.0f}s"}

    run_fault(day, "postgres_sigkill", fault)


def test_b_postgres_hung_sigstopped_for_60s(day: Day) -> None:
    postgres = day.stack.infra.postgres
    assert postgres is not None

    since = datetime.now(UTC).isoformat()

    def fault() -> dict[str, Any]:
        postgres.freeze()
        try:
            time.sleep(PG_DOWN_SECONDS / 2)
            # Hung, not down: the port still takes connections (the kernel answers for the
            # stopped server), and a service's readiness says it cannot reach its database.
            with socket.create_connection(("127.0.0.1", postgres.port), timeout=2):
                pass
            hung = _not_ready(day.stack, "routing")
            time.sleep(PG_DOWN_SECONDS / 2)
        finally:
            postgres.thaw()
        # The services' timeouts made the hang a transient fault, said once and waited out:
        # every relay gave up on its hung statement or connection (without them it would just
        # hang until the thaw and say nothing).
        timed_out = {}
        for service in day.stack.procs:
            events = _log_events(day.stack, service, since)
            waiting = [e for e in events if e.get("event") == "outbox_relay_waiting"]
            assert any("Timeout" in str(e.get("error")) for e in waiting), (service, waiting)
            timed_out[service] = len(waiting)
        return {"postgres": f"SIGSTOP+{PG_DOWN_SECONDS:.0f}s", "readyz_during": hung,
                "relays_timed_out": len(timed_out)}  # fmt: skip

    run_fault(day, "postgres_sigstop", fault)
    # Leases caught in the hang (a planning commit or a claim whose answer was lost) were given
    # back, not left to expire (ADR 29): how many, for the record.
    given = [e for e in _log_events(day.stack, "notify", since) if e.get("event") == "leases_given_back"]  # fmt: skip
    print(f"chaos-fault: postgres_sigstop notify_leases_given_back={sum(e['deliveries'] for e in given)}")  # fmt: skip


def test_b2_postgres_shut_down_for_60s(day: Day) -> None:
    postgres = day.stack.infra.postgres
    assert postgres is not None

    def fault() -> dict[str, Any]:
        postgres.stop("immediate")
        time.sleep(PG_DOWN_SECONDS)
        postgres.start()
        return {"postgres": f"down {PG_DOWN_SECONDS:.0f}s"}

    run_fault(day, "postgres_shut_down", fault)


def test_c_leader_broker_then_controller_killed(day: Day) -> None:
    cluster = day.stack.infra.kafka
    nodes = getattr(cluster, "nodes", None)
    assert nodes is not None and len(nodes) == 3, "runs on the three-node cluster"

    def fault() -> dict[str, Any]:
        leader = asyncio.run(_leader_of(day.stack.infra.kafka_bootstrap, INTAKE_CASE.name, 0))
        cluster.node(leader).kill()
        time.sleep(10)
        cluster.node(leader).start()
        _wait_in_sync(day.stack.infra.kafka_bootstrap, 60)
        controller = _quorum_leader(cluster)
        cluster.node(controller).kill()
        time.sleep(10)
        cluster.node(controller).start()
        _wait_in_sync(day.stack.infra.kafka_bootstrap, 60)
        return {"killed": f"leader=node{leader},controller=node{controller}"}

    run_fault(day, "kafka_leader_then_controller", fault)


def test_d_dead_letter_publish_refused_while_poison_arrives(day: Day) -> None:
    bootstrap = day.stack.infra.kafka_bootstrap
    dlq = INTAKE_CASE.name + ".dlq"

    def fault() -> dict[str, Any]:
        asyncio.run(_set_max_bytes(bootstrap, dlq, "64"))
        asyncio.run(_produce(bootstrap, INTAKE_CASE.name, POISON, key=new_key().encode()))
        time.sleep(15)
        held = dlq_size(day.stack)
        asyncio.run(_set_max_bytes(bootstrap, dlq, "1048588"))
        return {"dlq_refused_for": "15s", "dead_letters_while_refused": held}

    run_fault(day, "dlq_publish_refused", fault, poison=POISON)


# --- Kafka helpers ------------------------------------------------------------------------------


async def _leader_of(bootstrap: str, topic: str, partition: int) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        return int(
            next(p["leader"] for p in described["partitions"] if p["partition"] == partition)
        )
    finally:
        await admin.close()


def _quorum_leader(cluster: Any) -> int:
    """The active KRaft controller: the leader in a live node's quorum state file."""
    for node in cluster.nodes:
        state = node.data_dir / "data" / "__cluster_metadata-0" / "quorum-state"
        if node.running_pid() is not None and state.exists():
            leader = json.loads(state.read_text()).get("leaderId", -1)
            if leader > 0:
                return int(leader)
    raise AssertionError("no KRaft controller found")


def _wait_in_sync(bootstrap: str, timeout: float) -> None:
    async def all_in_sync() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics([INTAKE_CASE.name])
            return all(len(p["isr"]) == 3 for t in described for p in t["partitions"])
        finally:
            await admin.close()

    wait_for(lambda: asyncio.run(all_in_sync()), timeout=timeout, interval=1, what="ISR of 3")


async def _set_max_bytes(bootstrap: str, topic: str, value: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": value})]
        )
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, value: bytes, *, key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _read(bootstrap: str, topic: str) -> list[tuple[bytes, dict[str, str]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out: list[tuple[bytes, dict[str, str]]] = []
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                out += [(r.value, {k: v.decode() for k, v in r.headers}) for r in records]
        return out
    finally:
        await consumer.stop()
