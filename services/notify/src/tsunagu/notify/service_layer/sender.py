"""The sender: claims due deliveries, sends each on its channel, records what happened.

Claim → send → mark
-------------------
(A delivery due at once comes already claimed: the planning transaction of this process
inserted it leased to this sender and hands it over at commit, ``take``; ADR 27. It is then
sent and marked as below, the residents' consent read just before.)

1. **Claim** (one short transaction): due rows (``next_attempt_at <= now``, status
   scheduled / transient_failure / an expired ``sending``) are locked ``FOR UPDATE SKIP
   LOCKED`` and set to ``sending`` with a fresh ``lease_token`` and ``next_attempt_at = now +
   lease``. The claim is committed *before* any network I/O, so no transaction or row lock is
   held while a remote server is slow, and every other sender (another replica) skips them.
2. **Send**, outside any transaction: open the contact, render, hand the message to the
   channel adapter. Email carries a Message-ID derived from the dedup key, SMS and webhooks
   an idempotency token derived from it: a repeat of the same delivery looks the same.
3. **Mark** (as soon as the send is done, in one transaction with the other sends that
   finished meanwhile — a group commit; one per delivery if that fails): the attempt row, the
   ``delivery_attempted`` outbox event and the delivery's new status, only while the lease
   token is still ours. Letters and call-list
   entries are written in this same transaction: for them "sending" is that insert, so they
   happen exactly once.

Transient failures are rescheduled in the table (exponential backoff, ``domain.retry``), so a
retry survives a restart; residents' retries are moved out of the night again
(``quiet_hours.send_time``). Permanent failures move to the next consented channel, or end
as ``permanent_failure`` for staff to see (``/failures``).

Where exactly-once stops
------------------------
The effect is exactly-once except in one window: after the remote server accepted a message
and before the mark commits (or when the server's "250 OK" is lost on the way back). If the
process dies there, the delivery stays ``sending`` until its lease expires; it is then
claimed again, recorded as a ``lease_expired`` attempt, and sent a second time. That window is
at-least-once. It is narrow (the mark is written as soon as the send is done, at most behind
one other local transaction), the repeat carries the same
Message-ID / idempotency key, so mail systems and SMS providers that de-duplicate drop it, and
the ``lease_expired`` attempt shows staff that a resident may have received a message twice.
Closing it fully would need the receiver to take part in our transaction, which SMTP cannot.
The lease must outlast a batch's sends (``NotifyConfig`` checks it against the channel
timeouts), or a slow send could be claimed by a second sender while the first is still talking.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import jinja2
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_before_delay,
    wait_exponential,
)

from tsunagu.notify.adapters.channels import Channel, DeliveryResult, OutboundMessage
from tsunagu.notify.adapters.orm import (
    DUE_STATUSES,
    PERMANENT_FAILURE,
    SCHEDULED,
    SENDING,
    SENT,
    SUPPRESSED,
    TRANSIENT_FAILURE,
    NotifyTables,
    cases_by_id,
)
from tsunagu.notify.config import Clock
from tsunagu.notify.domain.planning import (
    RecipientKind,
    SuppressionReason,
    channels_for,
    why_unreachable,
)
from tsunagu.notify.domain.quiet_hours import send_time
from tsunagu.notify.domain.retry import DeliveryStatus, RetryPolicy
from tsunagu.notify.service_layer import journal
from tsunagu.notify.service_layer.recipients import (
    OPTED_OUT,
    PUBLIC_KINDS,
    AddressBook,
    resident_contact,
)
from tsunagu.notify.templates import UnknownTemplate, render
from tsunagu.shared.contracts.codes import ContactTime
from tsunagu.shared.crypto import ContactSealError, Sealer
from tsunagu.shared.faults import is_transient
from tsunagu.shared.internal import KeyUnavailable
from tsunagu.shared.logs import get_logger
from tsunagu.shared.outbox import OutboxWriter

log = get_logger(__name__)

LEASE_EXPIRED = "lease_expired"
#: A delivery whose resident's key intake could not give (intake down or refusing) is claimed
#: again after this long; nothing was sent, so no attempt is recorded.
KEY_RETRY = timedelta(seconds=5)
#: While keys stay unavailable, one warning at most this often.
KEY_LOG_EVERY_SECONDS = 60.0


@dataclass
class ChannelSet:
    """The adapters by channel code; a missing one fails permanently as ``<code>_not_configured``."""

    email: Channel | None = None
    sms: Channel | None = None
    webhook: Channel | None = None
    letter: Channel | None = None
    phone: Channel | None = None

    def get(self, code: str) -> Channel | None:
        adapter: Channel | None = getattr(self, code, None) if code in _CHANNEL_CODES else None
        return adapter

    async def close(self) -> None:
        """Close the connections the adapters keep open (email's SMTP connections)."""
        for code in sorted(_CHANNEL_CODES):
            close = getattr(self.get(code), "close", None)
            if close is not None:
                await close()


_CHANNEL_CODES = frozenset({"email", "sms", "webhook", "letter", "phone"})


@dataclass(frozen=True)
class Claimed:
    row: Mapping[str, Any]
    token: str
    #: For a delivery to a resident: the case's contact and consent as they were when it was
    #: claimed (None: the case is unknown here).
    case: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Outcome:
    """A delivery's next state after one attempt (pure: see ``after_attempt``)."""

    status: str
    next_attempt_at: datetime | None
    channel_index: int
    channel_attempts: int


@dataclass(frozen=True)
class Attempt:
    """One send and its result, recorded with the sends that finished at the same time
    (``Sender.record``)."""

    claimed: Claimed
    index: int
    channel: str
    result: DeliveryResult
    rest: list[int]
    preferred: ContactTime | None
    at: datetime
    #: A letter's document and a call sheet, sealed as the send finished (``Sender.deliver``),
    #: so that recording them asks intake for no key inside the mark's transaction.
    sealed_document: str | None = None
    sealed_call: str | None = None


def after_attempt(
    result: DeliveryResult,
    *,
    now: datetime,
    channel_index: int,
    channel_attempts: int,
    next_channels: Sequence[int],
    policy: RetryPolicy,
    preferred_time: ContactTime | None,
) -> Outcome:
    """Where a delivery goes after an attempt on the channel at ``channel_index``.

    ``channel_attempts`` counts this attempt; ``next_channels`` are the indexes of the
    channels still allowed after this one; ``preferred_time`` is set for residents, whose
    retries must fall inside their contact window.
    """
    if result.status is DeliveryStatus.SENT:
        return Outcome(SENT, None, channel_index, channel_attempts)
    if result.status is DeliveryStatus.TRANSIENT_FAILURE:
        retry_at = policy.next_attempt_at(channel_attempts, now)
        if retry_at is not None:
            if preferred_time is not None:
                retry_at = send_time(retry_at, preferred_time)
            return Outcome(TRANSIENT_FAILURE, retry_at, channel_index, channel_attempts)
    # Permanent, or transient with no attempts left: the next channel, if there is one.
    if next_channels:
        return Outcome(SCHEDULED, now, next_channels[0], 0)
    return Outcome(PERMANENT_FAILURE, None, channel_index, channel_attempts)


@dataclass
class Sender:
    tables: NotifyTables
    sessions: async_sessionmaker[AsyncSession]
    outbox: OutboxWriter
    channels: ChannelSet
    addresses: AddressBook
    sealer: Sealer
    clock: Clock
    policy: RetryPolicy
    lease: timedelta
    batch_size: int = 20
    _unrecorded: list[Attempt] = field(default_factory=list, init=False, repr=False)
    _recording: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    #: Deliveries put back since the last warning that keys were unavailable, and when it was.
    _key_waits: int = field(default=0, init=False, repr=False)
    _key_logged_at: float = field(default=float("-inf"), init=False, repr=False)
    #: Sends claimed or handed over (ADR 27) and not yet done, with those reserved by
    #: planning transactions still open: at most ``batch_size``, so a lease outlasts them.
    _in_flight: int = field(default=0, init=False, repr=False)
    _handed: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)
    #: Set while the worker runs (``Handoff.attach``): deliveries handed over are sent.
    accepting: bool = field(default=False, init=False, repr=False)
    #: Lease tokens this sender will send nothing under, although rows may hold them: a claim
    #: or a planning commit whose answer never came (the database hung or the connection
    #: dropped after the server had done it), or a hand-over it could not start. Given back
    #: at every run until the lease would have run out (a ``time.monotonic`` deadline each),
    #: so that they are sent at once rather than after the lease (ADR 29): a COMMIT held up on
    #: the network may land after a first give-back found nothing.
    _forgone: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    async def close(self) -> None:
        await self.channels.close()

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many deliveries were claimed."""
        await self.give_back_forgone()
        room = self.room()
        if room == 0:
            return 0  # a batch's worth is in flight (handed over); the next poll looks again
        self.reserve(room)
        claimed: list[Claimed] = []
        try:
            claimed = await self.claim(limit=room)
        finally:
            self.release(room - len(claimed))
        try:
            if claimed:
                await self._deliver_all(claimed)
        finally:
            self.release(len(claimed))
        return len(claimed)

    async def _deliver_all(self, claimed: Sequence[Claimed]) -> None:
        await self._prefetch_keys(claimed)
        await asyncio.gather(*(self._deliver_safely(c) for c in claimed))

    # --- 0. deliveries handed over by the planning transaction (ADR 27) -----------------------

    def room(self) -> int:
        """How many more sends may start now."""
        return max(0, self.batch_size - self._in_flight)

    def reserve(self, count: int) -> None:
        self._in_flight += count

    def release(self, count: int) -> None:
        self._in_flight = max(0, self._in_flight - count)

    def take(self, rows: list[Mapping[str, Any]], token: str) -> None:
        """Deliveries a planning transaction of this process just committed, leased under
        ``token`` (their room already reserved): sent now, without a claim. Called at commit.

        A planning transaction that began before the sender stopped and commits after it: its
        deliveries are left to their lease (any sender takes them over), as after a crash."""
        if not self.accepting:
            self.release(len(rows))
            log.warning("handed_deliveries_left_to_lease", size=len(rows), error="sender_stopped")
            return
        # Without a running loop this raises before anything is sent: the hand-over then
        # releases the room and forgoes the token (``handoff._hand_after_commit``).
        task = asyncio.get_running_loop().create_task(self._send_taken(rows, token))
        self._handed.add(task)
        task.add_done_callback(self._handed.discard)

    async def wait_for_handed(self) -> None:
        """Until the sends handed over so far are done and marked."""
        while self._handed:
            await asyncio.gather(*tuple(self._handed), return_exceptions=True)

    async def _send_taken(self, rows: list[Mapping[str, Any]], token: str) -> None:
        try:
            try:
                # Consent as it is now, read moments before the send (as with a claim).
                cases = await self._read_cases(rows)
            except Exception as exc:
                # Nothing was sent under the token: given back from the next run on, once
                # the database answers again.
                self.forgo(token)
                log.warning(
                    "handed_deliveries_given_back", size=len(rows), error=type(exc).__name__
                )
                return
            claimed = [Claimed(dict(r), token, cases.get(r["recipient_ref"])) for r in rows]
            await self._deliver_all(claimed)
        finally:
            self.release(len(rows))

    async def _read_cases(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
        """The residents' cases of ``rows``, with database faults waited out for a while."""
        if not any(r["recipient_kind"] == RecipientKind.RESIDENT for r in rows):
            return {}
        async for trying in AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_before_delay(0.5 * self.lease.total_seconds()),
            wait=wait_exponential(multiplier=0.2, max=5.0),
            reraise=True,
        ):
            with trying:
                async with self.sessions() as session:
                    conn = await session.connection(
                        execution_options={"isolation_level": "AUTOCOMMIT"}
                    )
                    return await self._cases_of_residents(conn, rows)
        return {}  # not reached: the last try returns or raises

    async def _prefetch_keys(self, claimed: Sequence[Claimed]) -> None:
        """The residents' contact keys of the whole batch in one request to intake, rather
        than one request per resident as each send opens its contact. Best effort: a key not
        fetched here is fetched (and its failure met) when the contact is opened."""
        sealed = [
            c.case["contact_sealed"] if c.case is not None else c.row["contact_sealed"]
            for c in claimed
            if c.row["recipient_kind"] in PUBLIC_KINDS
        ]
        try:
            await self.sealer.prefetch(sealed)
        except Exception as exc:
            log.info("contact_keys_not_prefetched", error=type(exc).__name__)

    def forgo(self, token: str) -> None:
        """Nothing was or will be sent under ``token``, yet rows may be leased under it (their
        transaction or claim may have committed unseen): give them back from the next run on.

        Only for a token under which nothing at all was sent: a claim that failed before its
        rows were handed to a send, a planning transaction whose commit failed, a hand-over
        whose sends never started. A send that may have gone out is left to its lease, which
        records the ``lease_expired`` attempt."""
        self._forgone[token] = time.monotonic() + self.lease.total_seconds()

    async def give_back_forgone(self) -> int:
        """Rows still leased under forgone tokens go back to the status they were claimed or
        handed over from, due now (one statement); returns how many. A token is kept, and
        looked for again at each run, until its lease would have run out (after that the lease
        takes the rows over, as after a crash); a database fault is raised and the tokens
        kept."""
        if not self._forgone:
            return 0
        tokens = sorted(self._forgone)
        d = self.tables.delivery
        now = self.clock()
        async with self.sessions() as session:
            conn = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            given = await conn.execute(
                update(d)
                .where(d.c.status == SENDING, d.c.lease_token.in_(tokens))
                .values(
                    status=func.coalesce(d.c.claimed_from, SCHEDULED),
                    lease_token=None,
                    claimed_from=None,
                    next_attempt_at=now,
                    updated_at=now,
                )
                .returning(d.c.id)
            )
            count = len(given.all())
        ended = time.monotonic()
        for token in tokens:
            if self._forgone.get(token, ended) <= ended:
                self._forgone.pop(token, None)
        if count:
            log.info("leases_given_back", deliveries=count, leases=len(tokens))
        return count

    # --- 1. claim ---------------------------------------------------------------------------

    async def claim(self, *, limit: int | None = None) -> list[Claimed]:
        """Take the due deliveries of a batch (most urgent, then longest due, first) with one
        statement in a transaction of its own: the rows are locked (``SKIP LOCKED``), leased to
        this sender and committed at once, so a claim is one round trip, not four, on every
        send's way (ADR 23). A lease that had expired is recorded as an attempt afterwards."""
        d = self.tables.delivery
        now = self.clock()
        token = str(uuid.uuid4())
        due = (
            select(d.c.id, d.c.status, d.c.next_attempt_at)
            .where(d.c.status.in_(DUE_STATUSES), d.c.next_attempt_at <= now)
            .order_by(d.c.urgent.desc(), d.c.next_attempt_at)
            .limit(limit or self.batch_size)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        taken = (
            update(d)
            .where(d.c.id == due.c.id)
            .values(
                status=SENDING,
                lease_token=token,
                claimed_from=due.c.status,
                next_attempt_at=now + self.lease,
                updated_at=now,
            )
            .returning(*d.c, due.c.status.label("was"), due.c.next_attempt_at.label("was_due"))
        )
        try:
            return await self._claim(taken, token, now)
        except BaseException:
            # Whether the statement took the rows is unknown (its answer may be what was
            # lost): nothing has been sent under the token, so whatever it holds is given back.
            self.forgo(token)
            raise

    async def _claim(self, taken: Any, token: str, now: datetime) -> list[Claimed]:
        d = self.tables.delivery
        async with self.sessions() as session:
            # Autocommit: the statement is its transaction (no BEGIN, no COMMIT round trip).
            conn = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            rows = sorted(
                (await conn.execute(taken)).all(), key=lambda r: (not r.urgent, r.was_due)
            )
            if not rows:
                return []
            cases = await self._cases_of_residents(conn, [r._mapping for r in rows])
        claimed = []
        expired = [r.id for r in rows if r.was == SENDING]
        columns = [c.name for c in d.c]
        values = {r.id: {name: r._mapping[name] for name in columns} for r in rows}
        if expired:
            async with self.sessions() as session, session.begin():
                for delivery_id in expired:
                    values[delivery_id] = await self._record_expired_lease(
                        session, values[delivery_id], now
                    )
        for row in rows:
            claimed.append(Claimed(values[row.id], token, cases.get(row.recipient_ref)))
        return claimed

    async def _cases_of_residents(
        self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, Mapping[str, Any]]:
        """The contact and consent of every case whose resident is in the batch, in one query
        (read right after the claim or the hand-over, moments before the send)."""
        refs = {r["recipient_ref"] for r in rows if r["recipient_kind"] == RecipientKind.RESIDENT}
        if not refs:
            return {}
        found = await conn.execute(cases_by_id(self.tables.case_contact), {"ids": sorted(refs)})
        return {row.case_id: row._mapping for row in found.all()}

    async def _record_expired_lease(
        self, session: AsyncSession, row: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        # The sender that held this delivery stopped mid-send: the message may have gone
        # out. Counted as an attempt of unknown outcome; sending again is the at-least-once
        # window described above.
        d = self.tables.delivery
        attempts, channel_attempts = row["attempts"] + 1, row["channel_attempts"] + 1
        await session.execute(
            update(d)
            .where(d.c.id == row["id"])
            .values(attempts=attempts, channel_attempts=channel_attempts)
        )
        channels = row["channels"]
        channel = channels[row["channel_index"]] if row["channel_index"] < len(channels) else ""
        await journal.record(
            session,
            self.tables,
            self.outbox,
            row,
            status=TRANSIENT_FAILURE,
            attempt=attempts,
            channel=channel or journal.NO_CHANNEL,
            error=LEASE_EXPIRED,
            at=now,
        )
        log.warning("delivery_lease_expired", delivery_id=row["id"], attempt=attempts)
        return {**row, "attempts": attempts, "channel_attempts": channel_attempts}

    # --- 2. send ----------------------------------------------------------------------------

    async def _deliver_safely(self, claimed: Claimed) -> None:
        try:
            attempt = await self.deliver(claimed)
            if attempt is not None:
                await self._record_soon(attempt)
        except KeyUnavailable as exc:
            # Intake could not give the resident's key: nothing was sent. The delivery is put
            # back for a moment rather than left to its lease, which would record a
            # "lease_expired" attempt (a message perhaps sent twice) for a send that never
            # happened.
            await self._wait_for_key(claimed, exc)
        except Exception:
            # Left as "sending": claimed again when the lease expires.
            log.exception("delivery_failed_unexpectedly", delivery_id=claimed.row["id"])

    async def _wait_for_key(self, claimed: Claimed, exc: KeyUnavailable) -> None:
        self._key_waits += 1
        now = time.monotonic()
        if now - self._key_logged_at >= KEY_LOG_EVERY_SECONDS:
            self._key_logged_at = now
            log.warning(
                "deliveries_waiting_for_keys",
                error=type(exc.__cause__ or exc).__name__,
                deliveries=self._key_waits,
                retry_seconds=KEY_RETRY.total_seconds(),
            )
            self._key_waits = 0
        try:
            await self._reschedule(claimed, self.clock() + KEY_RETRY, quiet=True)
        except Exception as fault:
            # Left as "sending": claimed again when the lease expires.
            log.warning("delivery_not_put_back", error=type(fault).__name__)

    async def deliver(self, claimed: Claimed) -> Attempt | None:
        """Send one delivery; returns the attempt to record, or None if it was suppressed or
        moved to a later time instead (recorded here)."""
        row = claimed.row
        kind = row["recipient_kind"]
        now = self.clock()
        indexed = list(enumerate(row["channels"]))[row["channel_index"] :]
        preferred: ContactTime | None = None
        sealed: str | None = None

        if kind in PUBLIC_KINDS:
            preferred = ContactTime.ANY
            unreachable = SuppressionReason.NO_CONSENTED_CHANNEL
            if kind == RecipientKind.RESIDENT:
                # Consent as it is now (read with the claim): a resident who has since chosen
                # "do not contact", or withdrawn a channel, is not contacted on the strength of
                # an older plan.
                case = claimed.case
                if case is None:
                    await self._suppress(claimed, SuppressionReason.CONTACT_UNKNOWN)
                    return None
                # A resident at risk is reached on the safe channel alone: a delivery planned
                # before the case was marked loses every other channel here, and no failure
                # falls back to a letter.
                resident = resident_contact(case)
                consented = channels_for(resident, row["template"])
                indexed = [(i, c) for i, c in indexed if c in consented]
                if resident.at_risk:
                    unreachable = SuppressionReason.NO_SAFE_CONTACT
                if not consented:
                    await self._suppress(claimed, why_unreachable(resident, row["template"]))
                    return None
                preferred = ContactTime(case["contact_time"])
                sealed = case["contact_sealed"]
            else:
                if await self._opted_out(row["recipient_ref"]):
                    await self._suppress(claimed, OPTED_OUT)
                    return None
                sealed = row["contact_sealed"]
            if not indexed:
                # The planned channels are no longer allowed (for a resident at risk: none of
                # them is the safe one).
                await self._suppress(claimed, unreachable)
                return None
            due = send_time(now, preferred)
            if due > now:  # e.g. claimed again after a lease expired at night
                await self._reschedule(claimed, due)
                return None
        if not indexed:
            return self._attempt(claimed, 0, journal.NO_CHANNEL, _permanent("no_channel"), [], None)

        index, channel = indexed[0]
        rest = [i for i, _ in indexed[1:]]
        try:
            contact = await self.sealer.open(sealed) if sealed else {}
        except ContactSealError:
            return self._attempt(
                claimed, index, channel, _permanent("contact_unreadable"), [], None
            )
        variables = dict(row["variables"])
        if kind in PUBLIC_KINDS:
            variables["resident_name"] = contact.get("name") or None
        try:
            rendered = render(row["template"], row["language"], variables)
        except (UnknownTemplate, jinja2.TemplateError):
            # Another channel would render the same template: no fallback.
            return self._attempt(claimed, index, channel, _permanent("render_error"), [], preferred)

        adapter = self.channels.get(channel)
        address = self.addresses.address(kind, row["recipient_ref"], channel, contact)
        if adapter is None:
            result = _permanent(f"{channel}_not_configured")
        elif address is None:
            result = _permanent("no_address")
        else:
            result = await adapter.send(
                OutboundMessage(
                    dedup_key=row["dedup_key"],
                    to=address,
                    subject=rendered.subject,
                    text=rendered.text,
                    html=rendered.html,
                    language=rendered.language,
                    recipient_name=contact.get("name") or None,
                    preferred_time=preferred or ContactTime.ANY,
                )
            )
        attempt = self._attempt(claimed, index, channel, result, rest, preferred)
        if result.ok and (result.document is not None or result.call is not None):
            attempt = await self._seal_papers(attempt)
        return attempt

    async def _seal_papers(self, attempt: Attempt) -> Attempt:
        """A letter to print or a call to make, sealed now like the contact details it was made
        from (the resident's own key, ADR 12; opened a moment ago, so at hand): recording it
        then asks nothing of intake with the mark's transaction open. A letter or a call is
        only queued for staff, so if the key cannot be had after all (``KeyUnavailable``),
        nothing reached the resident and the delivery waits for the key like any other."""
        claimed, result = attempt.claimed, attempt.result
        source = claimed.case["contact_sealed"] if claimed.case else claimed.row["contact_sealed"]
        document = call = None
        if result.document is not None:
            document = await self.sealer.seal_like(source, {"html": result.document})
        if result.call is not None:
            c = result.call
            entry = {"phone": c.phone, "name": c.recipient_name, "script": c.script}
            call = await self.sealer.seal_like(source, entry)
        return replace(attempt, sealed_document=document, sealed_call=call)

    def _attempt(
        self,
        claimed: Claimed,
        index: int,
        channel: str,
        result: DeliveryResult,
        rest: list[int],
        preferred: ContactTime | None,
    ) -> Attempt:
        return Attempt(claimed, index, channel, result, rest, preferred, self.clock())

    # --- 3. mark ----------------------------------------------------------------------------

    async def _record_soon(self, attempt: Attempt) -> None:
        """Record the attempt, with whatever other sends finished meanwhile (a group commit);
        returns once it is committed. Under load many attempts share a transaction; when idle,
        each is written at once, so a crash can repeat only the sends not yet written."""
        self._unrecorded.append(attempt)
        async with self._recording:
            if not self._unrecorded:
                return  # the writer before us took ours along
            attempts, self._unrecorded = self._unrecorded, []
            await self.record(attempts)

    async def record(self, attempts: Sequence[Attempt]) -> None:
        """Mark a batch's attempts in one transaction. If that fails, each is marked in a
        transaction of its own, so one bad row does not leave the others to be sent again."""
        if not attempts:
            return
        try:
            async with self.sessions() as session, session.begin():
                outcomes = await self._mark_all(session, attempts)
        except Exception as exc:
            log.warning("marks_recorded_one_by_one", size=len(attempts), error=type(exc).__name__)
            for attempt in attempts:
                outcome = await self._mark_alone(attempt)
                if outcome is not None:
                    _log_attempt(attempt, outcome)
            return
        for attempt, outcome in zip(attempts, outcomes, strict=True):
            _log_attempt(attempt, outcome)

    async def _mark_alone(self, attempt: Attempt) -> Outcome | None:
        """Mark one attempt in a transaction of its own. The message went out: while the
        database is unreachable (a transient fault, ADR 10) keep trying, for most of the lease,
        rather than leave it to be claimed and sent again when the lease expires."""
        try:
            async for trying in AsyncRetrying(
                retry=retry_if_exception(is_transient),
                stop=stop_before_delay(0.8 * self.lease.total_seconds()),
                wait=wait_exponential(multiplier=0.2, max=5.0),  # 0.2 s, doubling, at most 5 s
                reraise=True,
            ):
                with trying:
                    async with self.sessions() as session, session.begin():
                        return await self._mark(session, attempt)
        except Exception as exc:
            # Left as "sending": claimed again when the lease expires. The error's type only:
            # its message may quote a resident's data.
            log.warning(
                "delivery_mark_failed",
                delivery_id=attempt.claimed.row["id"],
                error=type(exc).__name__,
                transient=is_transient(exc),
            )
        return None

    async def _mark(self, session: AsyncSession, attempt: Attempt) -> Outcome:
        return (await self._mark_all(session, [attempt]))[0]

    async def _mark_all(self, session: AsyncSession, attempts: Sequence[Attempt]) -> list[Outcome]:
        """Mark attempts with a handful of statements whatever their number: one update of
        their deliveries (each only while the lease token is still ours), one insert of their
        attempt rows, their ``delivery_attempted`` events (written at commit in one insert)."""
        outcomes = [
            after_attempt(
                a.result,
                now=a.at,
                channel_index=a.index,
                channel_attempts=a.claimed.row["channel_attempts"] + 1,
                next_channels=a.rest,
                policy=self.policy,
                preferred_time=a.preferred,
            )
            for a in attempts
        ]
        held = set(
            (
                await session.execute(
                    text(_MARK.format(table=_qualified(session, self.tables.delivery))),
                    {
                        "ids": [a.claimed.row["id"] for a in attempts],
                        "tokens": [a.claimed.token for a in attempts],
                        "statuses": [o.status for o in outcomes],
                        "next": [o.next_attempt_at for o in outcomes],
                        "indexes": [o.channel_index for o in outcomes],
                        "channel_attempts": [o.channel_attempts for o in outcomes],
                        "attempts": [a.claimed.row["attempts"] + 1 for a in attempts],
                        "channels": [a.channel for a in attempts],
                        "errors": [a.result.error for a in attempts],
                        "sent": [a.at if a.result.ok else None for a in attempts],
                        "at": [a.at for a in attempts],
                    },
                )
            ).scalars()
        )
        for a in attempts:
            if a.claimed.row["id"] not in held:
                # Our lease ran out and another sender took the delivery over. The attempt
                # still happened, so it is still recorded.
                log.warning("delivery_lease_lost", delivery_id=a.claimed.row["id"])
        await journal.record_many(
            session,
            self.tables,
            self.outbox,
            [
                journal.Entry(
                    a.claimed.row,
                    status=a.result.status.value,
                    attempt=a.claimed.row["attempts"] + 1,
                    channel=a.channel,
                    error=a.result.error,
                    reference=a.result.reference,
                    at=a.at,
                )
                for a in attempts
            ],
        )
        for a in attempts:
            if a.result.ok:
                await self._queue_document(session, a)
        return outcomes

    async def _queue_document(self, session: AsyncSession, attempt: Attempt) -> None:
        """A letter to print or a call to make: written with the mark, so exactly once, as it
        was sealed when the send finished (``_seal_papers``)."""
        row, result, now = attempt.claimed.row, attempt.result, attempt.at
        common = {
            "id": str(uuid.uuid4()),
            "delivery_id": row["id"],
            "case_id": row["case_id"],
            "template": row["template"],
            "created_at": now,
        }
        if result.document is not None:
            t = self.tables.letter
            await session.execute(
                insert(t)
                .values(
                    **common,
                    language=row["language"],
                    document_sealed=attempt.sealed_document,
                )
                .on_conflict_do_nothing(index_elements=[t.c.delivery_id])
            )
        if result.call is not None:
            call = result.call
            t = self.tables.phone_call
            await session.execute(
                insert(t)
                .values(
                    **common,
                    language=call.language.value,
                    preferred_time=call.preferred_time.value,
                    interpreter_needed=call.interpreter_needed,
                    entry_sealed=attempt.sealed_call,
                )
                .on_conflict_do_nothing(index_elements=[t.c.delivery_id])
            )

    async def _opted_out(self, borrower_ref: str) -> bool:
        # An opt-out recorded after this invitation was scheduled (by a later import).
        o = self.tables.opt_out
        async with self.sessions() as session:
            found = await session.execute(
                select(o.c.borrower_ref).where(o.c.borrower_ref == borrower_ref)
            )
            return found.first() is not None

    async def _suppress(self, claimed: Claimed, reason: str) -> None:
        reason = str(reason)  # a SuppressionReason, or OPTED_OUT
        row = claimed.row
        d = self.tables.delivery
        now = self.clock()
        async with self.sessions() as session, session.begin():
            held = await session.execute(
                update(d)
                .where(d.c.id == row["id"], d.c.lease_token == claimed.token)
                .values(
                    status=SUPPRESSED,
                    reason=reason,
                    next_attempt_at=None,
                    lease_token=None,
                    updated_at=now,
                )
                .returning(d.c.id)
            )
            if held.first() is None:
                return
            await journal.record(
                session,
                self.tables,
                self.outbox,
                row,
                status=SUPPRESSED,
                attempt=0,
                channel=journal.NO_CHANNEL,
                error=reason,
                at=now,
            )
        log.info(
            "delivery_suppressed",
            delivery_id=row["id"],
            case_id=row["case_id"],
            template=row["template"],
            reason=reason,
        )

    async def _reschedule(self, claimed: Claimed, due: datetime, *, quiet: bool = False) -> None:
        d = self.tables.delivery
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(d)
                .where(d.c.id == claimed.row["id"], d.c.lease_token == claimed.token)
                .values(
                    status=SCHEDULED, next_attempt_at=due, lease_token=None, updated_at=self.clock()
                )
            )
        if not quiet:
            log.info("delivery_rescheduled", delivery_id=claimed.row["id"], at=due.isoformat())


#: A batch's marks in one statement: each delivery's new state, while the lease is ours.
_MARK = """
UPDATE {table} AS d SET
    status = v.status, next_attempt_at = v.next_attempt_at, channel_index = v.channel_index,
    channel_attempts = v.channel_attempts, attempts = v.attempts, last_channel = v.last_channel,
    last_error = v.last_error, sent_at = v.sent_at, lease_token = NULL, updated_at = v.updated_at
FROM unnest(
    CAST(:ids AS varchar[]), CAST(:tokens AS varchar[]), CAST(:statuses AS varchar[]),
    CAST(:next AS timestamptz[]), CAST(:indexes AS integer[]),
    CAST(:channel_attempts AS integer[]), CAST(:attempts AS integer[]),
    CAST(:channels AS varchar[]), CAST(:errors AS varchar[]), CAST(:sent AS timestamptz[]),
    CAST(:at AS timestamptz[])
) AS v(id, token, status, next_attempt_at, channel_index, channel_attempts, attempts,
       last_channel, last_error, sent_at, updated_at)
WHERE d.id = v.id AND d.lease_token = v.token
RETURNING d.id
"""


def _qualified(session: AsyncSession, table: Any) -> str:
    preparer = session.get_bind().dialect.identifier_preparer
    return str(preparer.format_table(table))


def _log_attempt(attempt: Attempt, outcome: Outcome) -> None:
    row = attempt.claimed.row
    log.info(
        "delivery_attempted",
        delivery_id=row["id"],
        case_id=row["case_id"],
        template=row["template"],
        recipient_kind=row["recipient_kind"],
        channel=attempt.channel,
        attempt=row["attempts"] + 1,
        status=attempt.result.status.value,
        error=attempt.result.error,
        next_status=outcome.status,
    )


def _permanent(error: str) -> DeliveryResult:
    return DeliveryResult(DeliveryStatus.PERMANENT_FAILURE, error=error)
