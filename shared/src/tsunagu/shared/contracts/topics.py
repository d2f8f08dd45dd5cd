"""The topic registry: the one source of truth for every Kafka topic, who writes it and who reads it.

Deploy manifests (Strimzi ``KafkaTopic`` and ``KafkaUser`` ACLs), the topic creation step of the
launcher and the consumers all read this module. Change topics here, then regenerate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tsunagu.shared.contracts.codes import Programme

INTAKE = "intake"
ROUTING = "routing"
NOTIFY = "notify"
FOOD_DISTRIBUTION = "food_distribution"

#: Intake's second consumer group: the anonymous report facts, read apart from its read model.
REPORTS_GROUP_SUFFIX = "-reports"
INTAKE_REPORTS = INTAKE + REPORTS_GROUP_SUFFIX

DLQ_SUFFIX = ".dlq"
DEFAULT_PARTITIONS = 6
DLQ_PARTITIONS = 1


@dataclass(frozen=True)
class Topic:
    """One topic: its name, the service that writes it, the services that read it.

    ``consumers`` are services (Kafka principals: ACLs, manifests, documents);
    ``consumer_groups`` are the groups they read it with, when these are not simply one group
    per service named after it. Every group reads, and dead-letters, every message on its own.
    """

    name: str
    producer: str
    consumers: tuple[str, ...]
    event_types: tuple[str, ...]
    key: str
    description: str
    partitions: int = DEFAULT_PARTITIONS
    #: Readers outside the four services, e.g. a programme team's own systems.
    external_readers: tuple[str, ...] = field(default=())
    #: The consumer groups of the services in ``consumers``; empty: one group per consumer.
    consumer_groups: tuple[str, ...] = field(default=())

    @property
    def groups(self) -> tuple[str, ...]:
        """Every consumer group of the four services that reads this topic."""
        return self.consumer_groups or self.consumers

    def groups_of(self, service: str) -> tuple[str, ...]:
        """The consumer groups ``service`` reads this topic with (its own name, or prefixed)."""
        return tuple(g for g in self.groups if g == service or g.startswith(service + "-"))

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


INTAKE_CASE = Topic(
    name="intake.case.v1",
    producer=INTAKE,
    consumers=(ROUTING, INTAKE),
    consumer_groups=(ROUTING, INTAKE_REPORTS),
    event_types=("case_created", "case_updated", "consent_changed", "resident_erased"),
    key="case_id",
    description=(
        "Cases taken in at a consultation event, their updates, consent changes and erasure."
        " The case's facts travel in the clear for routing, which decides on them: the food"
        " desk (routing.food.v1) and notify (intake.contact.v1) do not read this topic."
    ),
)
INTAKE_CONTACT = Topic(
    name="intake.contact.v1",
    producer=INTAKE,
    consumers=(NOTIFY,),
    event_types=("contact_case_created", "contact_consent_changed", "resident_erased"),
    key="case_id",
    description=(
        "Notify's own topic: each case's sealed contact details, consent and contact"
        " preferences (channels, time, language, at risk and the safe channel), a withdrawal"
        " and the confirmation asked for, and the resident's erasure; the twin of each such"
        " event on intake.case.v1, written with it. Never a concern, age or flag (ADR 25)."
    ),
)
INTAKE_REFERRAL_RESPONSE = Topic(
    name="intake.referral_response.v1",
    producer=INTAKE,
    consumers=(ROUTING,),
    event_types=("referral_response_submitted", "referral_requested"),
    key="case_id",
    description=(
        "Programme staff's accept / decline / in progress / close, and staff's requests for one"
        " more referral (after a decline), submitted in the UI."
    ),
)
INTAKE_STAFF = Topic(
    name="intake.staff.v1",
    producer=INTAKE,
    consumers=(ROUTING, NOTIFY, FOOD_DISTRIBUTION),
    event_types=("staff_sessions_revoked",),
    key="username",
    description="Staff sign-ins ended (logout, deactivation, role or password change): every "
    "service refuses their tokens.",
)
ROUTING_CASE = Topic(
    name="routing.case.v1",
    producer=ROUTING,
    consumers=(INTAKE,),
    consumer_groups=(INTAKE, INTAKE_REPORTS),
    event_types=(
        "case_routed",
        "case_rerouted",
        "referral_status_changed",
        "referral_escalated",
    ),
    key="case_id",
    description=(
        "Routing decisions with their reasons and every referral status change, per case"
        " (closed loop), for intake's case page. Notify reads their twins without reasons on"
        " routing.notify.v1 (ADR 25)."
    ),
)
ROUTING_NOTIFY = Topic(
    name="routing.notify.v1",
    producer=ROUTING,
    consumers=(NOTIFY,),
    event_types=(
        "notify_case_routed",
        "notify_case_rerouted",
        "notify_referral_status_changed",
        "referral_escalated",
    ),
    key="case_id",
    description=(
        "Notify's own topic from routing: the twin of every event on routing.case.v1, written"
        " with it, without reasons: the lead and its deadline, the coordinator, who holds the"
        " case, status changes and escalations. Never a reason, concern or flag (ADR 25)."
    ),
)
ROUTING_FOOD = Topic(
    name="routing.food.v1",
    producer=ROUTING,
    consumers=(FOOD_DISTRIBUTION,),
    event_types=(
        "food_case_routed",
        "food_case_rerouted",
        "food_consent_withdrawn",
        "resident_erased",
    ),
    key="case_id",
    description=(
        "The food desk's own topic: each case's household, event and sealed furigana with"
        " routing's rule 9 decision, a later eligibility, a consent withdrawal and the"
        " resident's erasure. Never a concern, reason, age or flag (ADR 24)."
    ),
)


def programme_topic_name(programme: Programme | str) -> str:
    return f"routing.programme.{Programme(programme).value}.v1"


def programme_team_user(programme: Programme | str) -> str:
    """The Kafka principal and consumer-group prefix of a programme team's subscriber."""
    return f"team-{Programme(programme).value.replace('_', '-')}"


PROGRAMME_TOPICS: dict[Programme, Topic] = {
    p: Topic(
        name=programme_topic_name(p),
        producer=ROUTING,
        consumers=(NOTIFY,),
        event_types=(
            "referral_created",
            "referral_status_changed",
            "referral_escalated",
            "consent_withdrawn",
        ),
        key="case_id",
        description=f"Referrals to {p.value} and their status changes; the team subscribes here.",
        external_readers=(programme_team_user(p),),
    )
    for p in Programme
}
NOTIFY_DELIVERY = Topic(
    name="notify.delivery.v1",
    producer=NOTIFY,
    consumers=(),
    event_types=("delivery_attempted",),
    key="case_id",
    description="Every delivery attempt of a message (channel, status, error), never its content.",
)
FOOD = Topic(
    name="food.v1",
    producer=FOOD_DISTRIBUTION,
    consumers=(INTAKE, NOTIFY),
    consumer_groups=(INTAKE, INTAKE_REPORTS, NOTIFY),
    event_types=("eligibility_granted", "parcel_handed_out", "stock_low", "household_linked"),
    key="case_id",
    description=(
        "Food parcel eligibility, handouts, low-stock alerts, and the desk's household links"
        " (two households found to be one, for intake's reports; ADR 33)."
    ),
)

ALL_TOPICS: tuple[Topic, ...] = (
    INTAKE_CASE,
    INTAKE_CONTACT,
    INTAKE_REFERRAL_RESPONSE,
    INTAKE_STAFF,
    ROUTING_CASE,
    ROUTING_NOTIFY,
    ROUTING_FOOD,
    *PROGRAMME_TOPICS.values(),
    NOTIFY_DELIVERY,
    FOOD,
)


def consumed_by(service: str) -> tuple[Topic, ...]:
    return tuple(t for t in ALL_TOPICS if service in t.consumers)


def produced_by(service: str) -> tuple[Topic, ...]:
    return tuple(t for t in ALL_TOPICS if t.producer == service)


def dlq_topics() -> tuple[str, ...]:
    """A dead-letter topic for every topic that some service consumes."""
    return tuple(t.dlq for t in ALL_TOPICS if t.consumers)


def all_topic_names() -> tuple[str, ...]:
    return tuple(t.name for t in ALL_TOPICS) + dlq_topics()


def partitions_of(name: str) -> int:
    for t in ALL_TOPICS:
        if t.name == name:
            return t.partitions
    if name.endswith(DLQ_SUFFIX):
        return DLQ_PARTITIONS
    raise KeyError(name)
