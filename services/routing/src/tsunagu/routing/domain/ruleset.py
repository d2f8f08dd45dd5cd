"""The versioned routing rule set: loaded from YAML data, validated by a JSON Schema."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema  # type: ignore[import-untyped]  # no stubs in the workspace
import yaml

from tsunagu.shared.contracts.codes import Concern, ExternalAgency, Programme

from .errors import RuleSetError
from .facts import BOOLEAN_FACTS

_RULES_PACKAGE = resources.files("tsunagu.routing.domain") / "rules"


@dataclass(frozen=True)
class RuleSet:
    """One version of the routing rules (docs/domain.md rules 1–9), as plain data.

    Built only by `load_rules`, which has validated every field.
    """

    version: str
    # Rule 1
    concern_programmes: Mapping[Concern, tuple[Programme, ...]]
    concern_external: Mapping[Concern, tuple[ExternalAgency, ...]]
    # Rule 2
    age_threshold: int
    age_concerns: frozenset[Concern]
    age_programme: Programme
    # Rule 3
    disability_certificate_programme: Programme
    # Rule 4
    special_loan_programme: Programme
    # Rule 5
    compound_min_programmes: int
    compound_concerns: frozenset[Concern]
    coordinator: Programme
    # Rule 6 fallback
    default_lead: Programme
    # Rule 8
    urgent_concerns: frozenset[Concern]
    urgent_flags: tuple[str, ...]
    timezone: ZoneInfo
    urgent_hours: int
    business_days: int
    business_day_start: time
    # Rule 9
    food_parcel_concerns: frozenset[Concern]
    # Lifecycle: who is suggested after a decline
    decline_fallback: tuple[Programme, ...]


def load_rules(text_or_path: str | Path | None = None) -> RuleSet:
    """Load and validate a rule set.

    `None` loads the shipped default (`rules/default.yaml`); a `Path` is read as a file;
    a `str` is YAML text. Raises `RuleSetError` naming the offending field.
    """
    if text_or_path is None:
        text = (_RULES_PACKAGE / "default.yaml").read_text(encoding="utf-8")
    elif isinstance(text_or_path, Path):
        try:
            text = text_or_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleSetError(f"cannot read rule set file {text_or_path}: {exc}") from exc
    else:
        text = text_or_path
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleSetError(f"rule set is not valid YAML: {exc}") from exc
    return rules_from_mapping(data)


def rules_from_mapping(data: Any) -> RuleSet:
    """Validate already-parsed rule set data (e.g. from a database row) and build a RuleSet."""
    _validate(data)
    concerns: dict[str, dict[str, list[str]]] = data["concerns"]
    deadlines = data["deadlines"]
    try:
        timezone = ZoneInfo(deadlines["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleSetError(
            f"rule set field 'deadlines.timezone': unknown time zone {deadlines['timezone']!r}"
        ) from None
    hour, minute = (int(part) for part in deadlines["business_day_start"].split(":"))
    return RuleSet(
        version=data["version"],
        concern_programmes={
            Concern(c): tuple(Programme(p) for p in row["programmes"])
            for c, row in concerns.items()
        },
        concern_external={
            Concern(c): tuple(ExternalAgency(a) for a in row.get("external", []))
            for c, row in concerns.items()
        },
        age_threshold=data["age"]["threshold"],
        age_concerns=frozenset(Concern(c) for c in data["age"]["concerns"]),
        age_programme=Programme(data["age"]["programme"]),
        disability_certificate_programme=Programme(data["disability_certificate"]["programme"]),
        special_loan_programme=Programme(data["special_loan_borrower"]["programme"]),
        compound_min_programmes=data["compound"]["min_programmes"],
        compound_concerns=frozenset(Concern(c) for c in data["compound"]["concerns"]),
        coordinator=Programme(data["compound"]["coordinator"]),
        default_lead=Programme(data["default_lead"]),
        urgent_concerns=frozenset(Concern(c) for c in data["urgency"]["concerns"]),
        urgent_flags=tuple(data["urgency"]["flags"]),
        timezone=timezone,
        urgent_hours=deadlines["urgent_hours"],
        business_days=deadlines["business_days"],
        business_day_start=time(hour, minute),
        food_parcel_concerns=frozenset(Concern(c) for c in data["food_parcel"]["concerns"]),
        decline_fallback=tuple(Programme(p) for p in data["decline_fallback"]),
    )


def _validate(data: Any) -> None:
    validator = jsonschema.Draft202012Validator(rule_set_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        field = ".".join(str(part) for part in error.absolute_path) or "(root)"
        raise RuleSetError(f"rule set field {field!r}: {error.message}")
    # A concern that reaches nobody would be dropped silently; an external referral at least
    # records where the resident was sent.
    for concern, row in data["concerns"].items():
        if not row["programmes"] and not row.get("external"):
            raise RuleSetError(
                f"rule set field 'concerns.{concern}': reaches no programme and no external agency"
            )


@cache
def _schema_file() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (_RULES_PACKAGE / "schema.json").read_text(encoding="utf-8")
    )
    return schema


def rule_set_schema() -> dict[str, Any]:
    """The JSON Schema of a rule set, with the code lists taken from the contract codes."""
    schema = copy.deepcopy(_schema_file())
    defs = schema["$defs"]
    defs["programme"]["enum"] = [p.value for p in Programme]
    defs["concern"]["enum"] = [c.value for c in Concern]
    defs["agency"]["enum"] = [a.value for a in ExternalAgency]
    defs["flag"]["enum"] = list(BOOLEAN_FACTS)
    schema["properties"]["concerns"]["required"] = [c.value for c in Concern]
    return schema
