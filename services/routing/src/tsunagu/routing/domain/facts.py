"""The facts of a case that routing decides on, validated against the contract codes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from tsunagu.shared.contracts.codes import Concern, SharingBasis

from .errors import InvalidCaseFacts, UnknownConcernError

#: Oldest age accepted; anything above is a data-entry error, not a resident.
MAX_AGE = 130


@dataclass(frozen=True)
class CaseFacts:
    """What intake recorded about a case, as far as routing needs it (no personal data).

    `concerns` keeps the order staff ticked them (rule 6 falls back to the first one);
    duplicates are dropped. `most_pressing`, when given, must be one of `concerns`.
    `sharing_basis` defaults to `none`: without a recorded basis only the lead gets the case.
    """

    concerns: tuple[Concern, ...] = ()
    most_pressing: Concern | None = None
    age: int | None = None
    disability_certificate: bool = False
    special_loan_borrower: bool = False
    lives_alone: bool = False
    no_food_today: bool = False
    eviction_within_7_days: bool = False
    sharing_basis: SharingBasis = SharingBasis.NONE

    def __post_init__(self) -> None:
        # Coerce and check here, so that direct construction is as safe as from_raw().
        concerns = _parse_concerns(self.concerns)
        object.__setattr__(self, "concerns", concerns)
        if self.most_pressing is not None:
            (most_pressing,) = _parse_concerns([self.most_pressing])
            if most_pressing not in concerns:
                raise InvalidCaseFacts(
                    f"most_pressing {most_pressing.value!r} is not one of the case's concerns"
                )
            object.__setattr__(self, "most_pressing", most_pressing)
        if self.age is not None and (
            isinstance(self.age, bool)
            or not isinstance(self.age, int)
            or not 0 <= self.age <= MAX_AGE
        ):
            raise InvalidCaseFacts(f"age must be an integer from 0 to {MAX_AGE}, got {self.age!r}")
        for name in BOOLEAN_FACTS:
            if not isinstance(getattr(self, name), bool):
                raise InvalidCaseFacts(f"{name} must be true or false")
        try:
            object.__setattr__(self, "sharing_basis", SharingBasis(self.sharing_basis))
        except ValueError:
            raise InvalidCaseFacts(
                f"unknown sharing_basis {self.sharing_basis!r}; "
                f"expected one of {[b.value for b in SharingBasis]}"
            ) from None

    @classmethod
    def from_raw(
        cls,
        *,
        concerns: Iterable[str],
        most_pressing: str | None = None,
        age: int | None = None,
        disability_certificate: bool = False,
        special_loan_borrower: bool = False,
        lives_alone: bool = False,
        no_food_today: bool = False,
        eviction_within_7_days: bool = False,
        sharing_basis: str = SharingBasis.NONE,
    ) -> CaseFacts:
        """Build facts from raw codes (e.g. an event payload); unknown concern codes raise
        `UnknownConcernError`, other bad values `InvalidCaseFacts`."""
        return cls(
            concerns=tuple(_parse_concerns(concerns)),
            most_pressing=None if most_pressing is None else _parse_concerns([most_pressing])[0],
            age=age,
            disability_certificate=disability_certificate,
            special_loan_borrower=special_loan_borrower,
            lives_alone=lives_alone,
            no_food_today=no_food_today,
            eviction_within_7_days=eviction_within_7_days,
            sharing_basis=sharing_basis,  # type: ignore[arg-type]  # checked in __post_init__
        )

    def flag(self, name: str) -> bool:
        """The value of a yes/no fact by name (rule sets name urgent flags this way)."""
        if name not in BOOLEAN_FACTS:
            raise KeyError(name)
        return bool(getattr(self, name))


def _parse_concerns(raw: Iterable[str]) -> tuple[Concern, ...]:
    if isinstance(raw, str):
        # A bare string would otherwise be read as a list of one-letter codes.
        raise InvalidCaseFacts("concerns must be a list of codes, not a single string")
    parsed: list[Concern] = []
    unknown: list[str] = []
    for code in raw:
        try:
            concern = Concern(code)
        except (ValueError, TypeError):
            unknown.append(str(code))
            continue
        if concern not in parsed:
            parsed.append(concern)
    if unknown:
        raise UnknownConcernError(unknown)
    return tuple(parsed)


#: The yes/no facts a rule set may refer to by name (e.g. urgent flags).
BOOLEAN_FACTS: tuple[str, ...] = tuple(
    f.name for f in fields(CaseFacts) if f.type in ("bool", bool)
)
