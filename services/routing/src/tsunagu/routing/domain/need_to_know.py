"""What a programme's own topic may say about a case's concerns: only what that programme needs.

A case's concerns are special-care personal information (debts, disability, DV, withdrawal).
The programme topics are read by each team's own systems and kept for the topic's retention,
beyond any later withdrawal of consent. So ``referral_created`` on a programme's topic names:

- for the programme that follows the whole case (role ``lead`` or ``coordinator``): every
  concern, in the order staff ticked them (``scope`` ``case``): it is the resident's contact
  and must see the whole picture;
- for a member programme: only the concerns that brought the case to it, as the referral's
  reasons name them (rule 1, rule 2's concern, a compound concern), in the same order
  (``scope`` ``programme``). A member reached by a flag (certificate, special loan) or by
  staff's request gets none: the flag is its reason. The whole case is on the case page,
  where access is checked and every view audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from tsunagu.shared.contracts.codes import ReferralRole

ConcernScope = Literal["case", "programme"]

#: The roles that follow the whole case.
WHOLE_CASE_ROLES = frozenset({ReferralRole.LEAD, ReferralRole.COORDINATOR})


def concerns_named(reasons: Iterable[Mapping[str, Any] | Any]) -> set[str]:
    """The concern codes a referral's reasons name (``concern`` or ``concerns`` parameters);
    a reason of the first version (a sentence) names none."""
    named: set[str] = set()
    for reason in reasons:
        params = reason.get("params") if isinstance(reason, Mapping) else None
        if not isinstance(params, Mapping):
            continue
        if isinstance(params.get("concern"), str):
            named.add(params["concern"])
        listed = params.get("concerns")
        if isinstance(listed, list):
            named.update(c for c in listed if isinstance(c, str))
    return named


def programme_concerns(
    role: ReferralRole | str, reasons: Iterable[Mapping[str, Any] | Any], concerns: Sequence[str]
) -> tuple[list[str], ConcernScope]:
    """The concerns a programme's topic carries for one referral, and their scope."""
    if ReferralRole(role) in WHOLE_CASE_ROLES:
        return list(concerns), "case"
    named = concerns_named(reasons)
    return [c for c in concerns if c in named], "programme"
