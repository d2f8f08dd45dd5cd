"""Errors raised by the routing domain: bad rule sets, bad case facts, forbidden transitions."""

from __future__ import annotations


class RoutingDomainError(Exception):
    """Base class for every error the routing domain raises."""


class RuleSetError(RoutingDomainError, ValueError):
    """A rule set that cannot be loaded; the message names the offending field."""


class InvalidCaseFacts(RoutingDomainError, ValueError):
    """Case facts that cannot be routed (bad age, unknown sharing basis, ...)."""


class UnknownConcernError(InvalidCaseFacts):
    """A concern code that is not in the contract (`tsunagu.shared.contracts.codes.Concern`)."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        super().__init__(f"unknown concern code(s): {', '.join(repr(c) for c in codes)}")


class InvalidTransition(RoutingDomainError, ValueError):
    """A referral status change the lifecycle does not allow."""
