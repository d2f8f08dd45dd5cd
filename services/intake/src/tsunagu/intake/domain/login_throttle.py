"""Failed logins: growing waits per client address and per username, never a lock.

Three counts, each with its own rule:

- the client address (``addr``), over every username: stops one machine guessing or spraying
  passwords across many usernames;
- the address and username together (``pair``): stops one machine guessing one person's
  password after a few tries;
- the username (``user``), over every address: slows guessing spread over many machines, with
  a short cap, so that nobody can keep a person out for more than half a minute at a time.

A few failures are free; after that each one doubles the wait before that count may try
again, up to the rule's cap. While a wait runs the attempt is refused (429 with
``Retry-After``) without looking at the password. Counts are kept per username as typed (known
or not, so the answer never tells whether a username exists), forgotten an hour after their
last failure; a successful login clears its ``pair`` and ``user`` counts (not the address's:
one's own account must not reset a guessing machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Rule:
    name: str
    free: int
    base: timedelta
    cap: timedelta


#: Generous, with a modest cap: a venue's staff may share one address behind a router.
ADDRESS = Rule("addr", free=20, base=timedelta(seconds=1), cap=timedelta(minutes=5))
PAIR = Rule("pair", free=3, base=timedelta(seconds=2), cap=timedelta(minutes=15))
USERNAME = Rule("user", free=10, base=timedelta(seconds=1), cap=timedelta(seconds=30))
RULES = (ADDRESS, PAIR, USERNAME)
#: A count whose last failure is older than this starts again from nothing.
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Count:
    failures: int
    last_failed_at: datetime


def key(rule: Rule, *, address: str, username: str) -> str:
    """The stored key of ``rule``'s count for this attempt."""
    if rule is ADDRESS:
        return f"addr:{address}"
    if rule is PAIR:
        return f"pair:{address}|{username}"
    return f"user:{username}"


def current(count: Count | None, now: datetime) -> Count | None:
    """The count as it stands at ``now``: None once forgotten."""
    if count is None or now - count.last_failed_at > FORGET_AFTER:
        return None
    return count


def wait(rule: Rule, count: Count | None) -> timedelta:
    """How long after the last failure the next attempt must wait."""
    if count is None or count.failures <= rule.free:
        return timedelta(0)
    doubling = min(count.failures - rule.free - 1, 30)
    return min(rule.cap, rule.base * (2**doubling))


def retry_at(counts: dict[Rule, Count | None], now: datetime) -> datetime | None:
    """When this attempt may be made, if not now (the latest of the rules' waits)."""
    latest: datetime | None = None
    for rule, count in counts.items():
        live = current(count, now)
        if live is None:
            continue
        until = live.last_failed_at + wait(rule, live)
        if until > now and (latest is None or until > latest):
            latest = until
    return latest


def after_failure(count: Count | None, now: datetime) -> Count:
    live = current(count, now)
    return Count(failures=(live.failures if live else 0) + 1, last_failed_at=now)
