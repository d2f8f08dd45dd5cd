"""Parcel stock ledger per (event, parcel type): movements, balances and low-stock crossings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from tsunagu.shared.contracts.codes import ParcelType


class MovementKind(StrEnum):
    RECEIPT = "receipt"  # stock arriving from outside, e.g. a donor or food bank
    TRANSFER_IN = "transfer_in"  # from another venue or event
    TRANSFER_OUT = "transfer_out"  # to another venue or event
    ADJUSTMENT = "adjustment"  # stocktake correction, damage, expiry: signed, with a reason
    HANDOUT = "handout"  # one parcel to one household


class InvalidMovement(ValueError):
    """A movement that is wrong whatever the stock, e.g. a receipt of zero parcels."""


class OutOfStock(Exception):
    """Applying a movement would take a parcel type's balance below zero."""

    def __init__(self, parcel_type: ParcelType, remaining: int) -> None:
        super().__init__(f"out of stock: {parcel_type} (remaining {remaining})")
        self.parcel_type = parcel_type
        self.remaining = remaining


@dataclass(frozen=True)
class Movement:
    """One ledger line.

    ``quantity`` is a positive count for every kind except ``adjustment``, where it is the
    signed change; a handout is always one parcel. Use the classmethods to build them.
    """

    event_id: str
    parcel_type: ParcelType
    kind: MovementKind
    quantity: int
    source: str | None = None  # receipt: where it came from (donor, food bank)
    counterpart: str | None = None  # transfers: the other venue or event
    reason: str | None = None  # adjustment: why (required); optional note otherwise

    def __post_init__(self) -> None:
        # Rows read back from storage carry plain strings; normalise them to the codes.
        try:
            object.__setattr__(self, "parcel_type", ParcelType(self.parcel_type))
            object.__setattr__(self, "kind", MovementKind(self.kind))
        except ValueError as exc:
            raise InvalidMovement(str(exc)) from exc
        if not self.event_id.strip():
            raise InvalidMovement("a movement needs an event id")
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool):
            raise InvalidMovement(f"quantity must be an integer, got {self.quantity!r}")
        kind = self.kind
        if kind is MovementKind.ADJUSTMENT:
            if self.quantity == 0:
                raise InvalidMovement("an adjustment must change the stock")
            if not (self.reason or "").strip():
                raise InvalidMovement("an adjustment needs a reason")
        elif kind is MovementKind.HANDOUT:
            if self.quantity != 1:
                raise InvalidMovement("a handout is exactly one parcel")
        elif self.quantity <= 0:
            raise InvalidMovement(f"{kind} quantity must be positive, got {self.quantity}")
        if kind is MovementKind.RECEIPT and not (self.source or "").strip():
            raise InvalidMovement("a receipt needs its source (e.g. the donor)")
        if (
            kind in (MovementKind.TRANSFER_IN, MovementKind.TRANSFER_OUT)
            and not (self.counterpart or "").strip()
        ):
            raise InvalidMovement("a transfer needs the other venue or event")

    @property
    def delta(self) -> int:
        """The signed change this movement makes to its parcel type's balance."""
        if self.kind in (MovementKind.TRANSFER_OUT, MovementKind.HANDOUT):
            return -self.quantity
        return self.quantity

    @classmethod
    def receipt(
        cls, event_id: str, parcel_type: ParcelType, quantity: int, source: str
    ) -> Movement:
        return cls(event_id, parcel_type, MovementKind.RECEIPT, quantity, source=source)

    @classmethod
    def transfer_in(
        cls, event_id: str, parcel_type: ParcelType, quantity: int, counterpart: str
    ) -> Movement:
        return cls(
            event_id, parcel_type, MovementKind.TRANSFER_IN, quantity, counterpart=counterpart
        )

    @classmethod
    def transfer_out(
        cls, event_id: str, parcel_type: ParcelType, quantity: int, counterpart: str
    ) -> Movement:
        return cls(
            event_id, parcel_type, MovementKind.TRANSFER_OUT, quantity, counterpart=counterpart
        )

    @classmethod
    def adjustment(
        cls, event_id: str, parcel_type: ParcelType, delta: int, reason: str
    ) -> Movement:
        return cls(event_id, parcel_type, MovementKind.ADJUSTMENT, delta, reason=reason)

    @classmethod
    def handout(cls, event_id: str, parcel_type: ParcelType) -> Movement:
        return cls(event_id, parcel_type, MovementKind.HANDOUT, 1)


def empty_balance() -> dict[ParcelType, int]:
    """Zero of every parcel type, so reports and messages always list all four."""
    return {t: 0 for t in ParcelType}


def apply(balance: Mapping[ParcelType, int], movement: Movement) -> dict[ParcelType, int]:
    """Return the balance after ``movement``; raise OutOfStock rather than go below zero."""
    current = balance.get(movement.parcel_type, 0)
    after = current + movement.delta
    if after < 0:
        raise OutOfStock(movement.parcel_type, current)
    return {**balance, movement.parcel_type: after}


def balance(movements: Iterable[Movement]) -> dict[ParcelType, int]:
    """Replay one event's ledger in order; every parcel type appears, zero if untouched."""
    result = empty_balance()
    event_ids: set[str] = set()
    for movement in movements:
        event_ids.add(movement.event_id)
        if len(event_ids) > 1:
            raise ValueError(f"a ledger is per event; got events {sorted(event_ids)}")
        result = apply(result, movement)
    return result


def low_stock_crossings(before: int, after: int, threshold: int) -> bool:
    """True exactly when the balance drops from at or above ``threshold`` to below it.

    Staying low does not fire again; recovering to the threshold and dropping once more does.
    """
    return before >= threshold > after
