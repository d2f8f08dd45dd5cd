"""Routing a corrected case again: what changes for the referrals the case already has.

A case is corrected (``case_updated``) after it was routed. `decide` runs again on the new
facts, exactly as for a new case; `reroute` then compares that decision with the referrals the
case holds:

- a programme the decision reaches that holds no referral gets a new one (status as for a new
  case: `pending`, or `suggested` while there is no sharing basis);
- a referral the decision no longer needs is withdrawn if the programme has not taken it up yet
  (`suggested`, `pending`, `escalated`), with the reason `WITHDRAWN_NOT_NEEDED`;
- a referral already `accepted` or `in_progress` is kept: the programme is working with the
  resident, and only it can close the referral;
- a referral that ended (`declined`, `closed`) stays as it is, and its programme is not asked
  again: a programme that declined is not sent the same case by a correction;
- a referral an earlier correction withdrew (reason `WITHDRAWN_NOT_NEEDED`) is reinstated if the
  decision needs its programme again (staff corrected the correction); one withdrawn for any
  other reason stays withdrawn.

Roles follow the new decision. A kept referral the decision no longer reaches becomes a
`member`, so that the case never has two leads.
"""

from __future__ import annotations

from dataclasses import dataclass

from tsunagu.shared.contracts.codes import Programme, ReferralRole, ReferralStatus

from .engine import Decision

#: The reason code a referral withdrawn by re-routing carries.
WITHDRAWN_NOT_NEEDED = "not_needed_after_correction"

_S = ReferralStatus
#: Not yet taken up by the programme: withdrawn when no longer needed.
WITHDRAWABLE = frozenset({_S.SUGGESTED, _S.PENDING, _S.ESCALATED})
#: The programme is working with the resident: kept whatever the new decision says.
TAKEN_UP = frozenset({_S.ACCEPTED, _S.IN_PROGRESS})


@dataclass(frozen=True)
class HeldReferral:
    """A referral the case already has, as far as re-routing needs it."""

    referral_id: str
    programme: Programme
    role: ReferralRole
    status: ReferralStatus
    #: Why it ended, for a withdrawn referral (only a correction's withdrawal is undone).
    reason: str | None = None


@dataclass(frozen=True)
class Rerouting:
    """What re-routing does to a case's referrals.

    - `add`: programmes to refer the case to now, in the decision's order (lead first);
    - `withdraw`: referral ids no longer needed and not taken up;
    - `reinstate`: referral ids an earlier correction withdrew, needed again;
    - `roles`: referral id → its new role, for every held referral whose role changes.
    """

    add: tuple[Programme, ...]
    withdraw: tuple[str, ...]
    roles: dict[str, ReferralRole]
    reinstate: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.add or self.withdraw or self.roles or self.reinstate)


def reroute(decision: Decision, held: tuple[HeldReferral, ...] | list[HeldReferral]) -> Rerouting:
    """Compare a new decision with the case's referrals (pure)."""
    by_programme = {h.programme: h for h in held}
    add = tuple(p for p in decision.programmes if p not in by_programme)
    withdraw: list[str] = []
    reinstate: list[str] = []
    roles: dict[str, ReferralRole] = {}
    for h in held:
        if h.status in WITHDRAWABLE and h.programme not in decision.roles:
            withdraw.append(h.referral_id)
            continue
        if (
            h.status is _S.WITHDRAWN
            and h.reason == WITHDRAWN_NOT_NEEDED
            and h.programme in decision.roles
        ):
            reinstate.append(h.referral_id)
        elif h.status not in WITHDRAWABLE and h.status not in TAKEN_UP:
            continue  # ended: declined, closed, withdrawn for another reason
        role = decision.roles.get(h.programme, ReferralRole.MEMBER)
        if role is not h.role:
            roles[h.referral_id] = role
    return Rerouting(add=add, withdraw=tuple(withdraw), roles=roles, reinstate=tuple(reinstate))
