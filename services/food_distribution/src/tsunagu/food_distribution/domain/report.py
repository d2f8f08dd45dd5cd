"""Per-event food distribution report as CSV that Excel in Japan opens directly."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from tsunagu.food_distribution.domain.handout import Handout
from tsunagu.food_distribution.domain.labels import PARCEL_TYPE_LABELS_JA
from tsunagu.food_distribution.domain.stock import Movement, MovementKind
from tsunagu.shared.contracts.codes import ParcelType

HEADER: tuple[str, ...] = (
    "開催ID",
    "開催日",
    "会場",
    "種類",
    "配布世帯数",
    "配布数",
    "受入（寄付等）",
    "移動（受入）",
    "移動（払出）",
    "調整（増減）",
    "在庫残数",
)
TOTAL_LABEL = "合計"
# Excel guesses the encoding of a CSV as Shift_JIS unless it starts with a UTF-8 BOM.
BOM = "\ufeff"


@dataclass(frozen=True)
class ConsultationEvent:
    event_id: str
    venue: str
    held_on: date


def event_report_csv(
    event: ConsultationEvent, handouts: Iterable[Handout], movements: Iterable[Movement]
) -> str:
    """One row per parcel type and a 合計 row; records of other events are ignored.

    Parcels and households come from the handout records, stock figures from the ledger.
    The total's household count is distinct households, not a sum over types. Encode the
    returned text as UTF-8: it already starts with the BOM.
    """
    served = [h for h in handouts if h.event_id == event.event_id]
    ledger = [m for m in movements if m.event_id == event.event_id]

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for parcel_type in ParcelType:
        of_type = [h for h in served if h.parcel_type == parcel_type]
        stock = [m for m in ledger if m.parcel_type == parcel_type]
        writer.writerow(_row(event, PARCEL_TYPE_LABELS_JA[parcel_type], of_type, stock))
    writer.writerow(_row(event, TOTAL_LABEL, served, ledger))
    return BOM + buffer.getvalue()


def _row(
    event: ConsultationEvent,
    label: str,
    served: list[Handout],
    stock: list[Movement],
) -> list[str | int]:
    def total(kind: MovementKind) -> int:
        return sum(m.quantity for m in stock if m.kind is kind)

    return [
        _text(event.event_id),
        event.held_on.isoformat(),
        _text(event.venue),
        label,
        len({h.household_id for h in served}),
        len(served),
        total(MovementKind.RECEIPT),
        total(MovementKind.TRANSFER_IN),
        total(MovementKind.TRANSFER_OUT),
        total(MovementKind.ADJUSTMENT),
        # A plain sum, not a replay: a report must render even an inconsistent history.
        sum(m.delta for m in stock),
    ]


def _text(value: str) -> str:
    # Staff-typed text starting with these is run as a formula by spreadsheets.
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value
