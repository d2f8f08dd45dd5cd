"""Hard kills mid-stream: nothing lost, nothing done twice.

A stream of cases goes through the real stack (Kafka, PostgreSQL, the four services as
processes) while a driver SIGKILLs, at random moments, each service process and once the Kafka
broker, restarting each. Then everything is checked from the databases and the SMTP sink.
TSUNAGU_CHAOS_CASES sets the stream's length (default 2000, the always-on version); a longer soak
is e.g. TSUNAGU_CHAOS_CASES=20000.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import httpx
import pytest
from cases import case_body, expected, new_key
from chaos_kit import dlq_size, submit, total_lag
from stack import build_stack, teardown_stack, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.timeout(2400)]

CASES = int(os.environ.get("TSUNAGU_CHAOS_CASES", "2000"))
WORKERS = 6
CASE_NUMBER = re.compile(r"K-\d{8}-\d{4,}")
SEED = int(os.environ.get("TSUNAGU_CHAOS_SEED", str(int(time.time()))))


@pytest.fixture(scope="module")
def stack():
    s = build_stack("chaos")
    try:
        s.start_all()
        yield s
    finally:
        teardown_stack(s)


class Killer(threading.Thread):
    """SIGKILLs each service once and Kafka once, at random moments, and restarts them."""

    def __init__(self, stack, rng: random.Random, window: float) -> None:
        super().__init__(daemon=True)
        self.stack, self.rng, self.window = stack, rng, window
        self.kills: list[tuple[float, str]] = []
        self.restarts = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            targets = ["intake", "routing", "notify", "food_distribution", "kafka"]
            self.rng.shuffle(targets)
            times = sorted(self.rng.uniform(2, self.window) for _ in targets)
            t0 = time.monotonic()
            for at, target in zip(times, targets, strict=True):
                time.sleep(max(0.0, at - (time.monotonic() - t0)))
                self.kills.append((time.monotonic() - t0, target))
                if target == "kafka":
                    self.stack.infra.kafka.kill()
                    time.sleep(self.rng.uniform(1, 3))
                    self.stack.infra.kafka.start()
                else:
                    self.stack.procs[target].kill()
                    time.sleep(self.rng.uniform(0.5, 2))
                    self.stack.start(target)
                self.restarts += 1
            for proc in self.stack.procs.values():
                proc.wait_ready(180)
        except BaseException as exc:  # reported by the test
            self.error = exc


def test_no_case_lost_or_duplicated_through_hard_kills(stack):
    rng = random.Random(SEED)
    intake = stack.client("intake", "uketsuke")
    events = intake.get("/api/v1/events").json()
    events = events.get("items", events) if isinstance(events, dict) else events
    event = events[0]
    event_date = date.fromisoformat(event["date"])
    bodies = [case_body(rng, event["event_id"], index=i) for i in range(CASES)]
    token = stack.signed_in("uketsuke")

    # Stock for the food desk: enough for every eligible household.
    food = stack.client("food_distribution", "food")
    receipt = food.post(
        "/api/v1/stock/receipts",
        json={"event_id": event["event_id"], "venue_id": event["venue_id"],
              "parcel_type": "standard", "quantity": CASES, "source": "フードバンク"},
    )  # fmt: skip
    assert receipt.status_code in (200, 201), receipt.text

    t0 = time.monotonic()
    killer = Killer(stack, rng, window=max(10.0, CASES / 40))
    killer.start()
    deadline = time.monotonic() + 900
    with ThreadPoolExecutor(WORKERS) as pool:
        case_ids = list(pool.map(lambda b: submit(stack, token, b, deadline), bodies))
    submitted_in = time.monotonic() - t0
    killer.join(300)
    assert killer.error is None, f"the kill driver failed: {killer.error!r}"
    assert all(case_ids), "every case was eventually accepted by intake"
    cases = dict(zip(case_ids, bodies, strict=True))
    exp = {cid: expected(body, event_date) for cid, body in cases.items()}
    ids = list(cases)

    # Drain: wait until routing, food and notify have caught up with every case.
    want_referrals = sum(len(e["programmes"]) for e in exp.values())
    want_eligible = sum(e["food"] for e in exp.values())
    want_team = sum(len(e["shared"]) for e in exp.values())

    def caught_up() -> bool:
        routed = stack.query("SELECT count(*) FROM routing.decision WHERE case_id = ANY($1)", ids)
        eligible = stack.query(
            "SELECT count(*) FROM food_distribution.eligibility WHERE case_id = ANY($1)", ids
        )
        team = stack.query(
            "SELECT count(*) FROM notify.delivery WHERE case_id = ANY($1)"
            " AND recipient_kind = 'team' AND template = 'new_referral' AND status = 'sent'",
            ids,
        )
        return (
            routed[0][0] == len(ids) and eligible[0][0] == want_eligible and team[0][0] == want_team
        )

    wait_for(caught_up, timeout=900, interval=2, what="the stack to drain")

    # Hand out a parcel to each eligible household, twice over, while food restarts once.
    eligible_ids = [cid for cid in ids if exp[cid]["food"]]

    def hand_out(cid: str) -> int:
        key = new_key()
        for _ in range(200):
            try:
                r = food.post(
                    "/api/v1/handouts",
                    json={"case_id": cid, "parcel_type": "standard"},
                    headers={"Idempotency-Key": key},
                )
            except httpx.HTTPError:
                time.sleep(0.3)
                continue
            if r.status_code in (200, 201, 409):
                return r.status_code
            time.sleep(0.3)
        raise AssertionError("handout never answered")

    food_killer = threading.Timer(1.0, lambda: (stack.procs["food_distribution"].kill(),
                                                 stack.start("food_distribution")))  # fmt: skip
    food_killer.start()
    with ThreadPoolExecutor(WORKERS) as pool:
        first = list(pool.map(hand_out, eligible_ids))
    stack.procs["food_distribution"].wait_ready(120)
    with ThreadPoolExecutor(WORKERS) as pool:
        second = list(pool.map(hand_out, eligible_ids))
    drained_in = time.monotonic() - t0

    # --- what the databases and the SMTP sink say ---------------------------------------
    decisions = stack.query(
        "SELECT case_id, count(*) FROM routing.decision WHERE case_id = ANY($1) GROUP BY case_id",
        ids,
    )
    assert len(decisions) == len(ids)
    assert all(n == 1 for _, n in decisions), "every case routed exactly once"
    referrals = stack.query(
        "SELECT case_id, programme, status FROM routing.referral WHERE case_id = ANY($1)", ids
    )
    got: dict[str, set[str]] = {}
    for cid, programme, _ in referrals:
        got.setdefault(cid, set()).add(programme)
    wrong = [cid for cid in ids if got.get(cid, set()) != exp[cid]["programmes"]]
    assert not wrong, f"{len(wrong)} cases have other referrals than their rules give"
    assert len(referrals) == want_referrals

    team = stack.query(
        "SELECT dedup_key, status FROM notify.delivery WHERE case_id = ANY($1)"
        " AND recipient_kind = 'team' AND template = 'new_referral'",
        ids,
    )
    assert len(team) == want_team, "one staff message per shared referral"
    our_numbers = {
        r[0]
        for r in stack.query(
            "SELECT case_number FROM routing.decision WHERE case_id = ANY($1)", ids
        )
    }
    team_mail = [
        m for m in stack.smtp.messages
        if "@team." in str(m["To"]) and _case_number(m) in our_numbers
    ]  # fmt: skip
    per_message_id = Counter(str(m["Message-ID"]) for m in team_mail)
    assert len(per_message_id) == want_team, "one team email per shared referral"
    resent = sum(n - 1 for n in per_message_id.values())

    acks = stack.query(
        "SELECT case_id, count(*) FROM notify.delivery WHERE case_id = ANY($1)"
        " AND recipient_kind = 'resident' AND template = 'acknowledgement'"
        " AND status <> 'suppressed' GROUP BY case_id",
        ids,
    )
    contactable = {cid for cid in ids if exp[cid]["contactable"]}
    assert {cid for cid, _ in acks} == contactable, "one acknowledgement per consenting resident"
    assert all(n == 1 for _, n in acks)

    eligibility = stack.query(
        "SELECT case_id, count(*) FROM food_distribution.eligibility WHERE case_id = ANY($1)"
        " GROUP BY case_id",
        ids,
    )
    assert {cid for cid, _ in eligibility} == set(eligible_ids)
    handouts = stack.query(
        "SELECT case_id, count(*) FROM food_distribution.handout WHERE case_id = ANY($1)"
        " GROUP BY case_id",
        ids,
    )
    assert {cid for cid, _ in handouts} == set(eligible_ids), "every eligible household served"
    assert all(n == 1 for _, n in handouts), "no household served twice"
    assert all(code in (200, 201) for code in first), "a retried handout returns its first answer"
    assert all(code == 409 for code in second), "a second visit is refused"

    for schema in ("intake", "routing", "notify", "food_distribution"):
        wait_for(
            lambda s=schema: (
                stack.query(f"SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL")[0][0] == 0
            ),
            timeout=60,
            what=f"{schema} outbox to empty",
        )

    wait_for(lambda: total_lag(stack) == 0, timeout=120, what="consumer lag 0")
    dead = dlq_size(stack)
    assert dead == 0, f"{dead} good messages were dead-lettered"

    print(
        f"\nchaos: seed={SEED} cases={len(ids)} referrals={len(referrals)} "
        f"kills={len(killer.kills) + 1} restarts={killer.restarts + 1} "
        f"({', '.join(f'{name}@{at:.0f}s' for at, name in killer.kills)}, food_distribution during handouts) "
        f"lost=0 duplicated=0 smtp_resends_deduplicated_by_message_id={resent} "
        f"handouts={sum(n for _, n in handouts)} submitted_in={submitted_in:.0f}s "
        f"time_to_drain={drained_in:.0f}s lag=0 dlq=0"
    )


def _case_number(message) -> str | None:
    found = CASE_NUMBER.search(str(message["Subject"]))
    return found.group(0) if found else None
