"""Japanese display labels for parcel types, shared by desk messages and reports."""

from __future__ import annotations

from tsunagu.shared.contracts.codes import ParcelType

PARCEL_TYPE_LABELS_JA: dict[ParcelType, str] = {
    ParcelType.STANDARD: "標準",
    ParcelType.NO_PORK: "豚肉不使用（ハラール対応）",
    ParcelType.ALLERGY_FRIENDLY: "アレルギー対応",
    ParcelType.INFANT: "乳幼児用",
}
