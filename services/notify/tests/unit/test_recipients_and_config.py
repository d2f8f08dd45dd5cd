"""Staff addresses from the configured patterns; residents' from their contact, per channel."""

import pytest
from pydantic import ValidationError

from tsunagu.notify.config import NotifyConfig
from tsunagu.notify.service_layer.recipients import AddressBook

CONTACT = {
    "name": "山田 花子",
    "email": "hanako@example.jp",
    "phone": "09012345678",
    "address": "埼玉県川口市青木2-2-2",
}


def book(**settings) -> AddressBook:
    return AddressBook(NotifyConfig(**settings))


def test_staff_addresses_come_from_the_patterns():
    b = book(team_address_pattern="{programme}@team.example.jp")
    assert b.address("team", "welfare_fund", "email", None) == "welfare_fund@team.example.jp"
    assert (
        b.address("supervisor", "welfare_fund", "email", None)
        == "welfare_fund-supervisor@team.tsunagu.example"
    )
    assert b.address("intake_staff", "sato", "email", None) == "sato@staff.tsunagu.example"
    assert b.address("intake_staff", "", "email", None) is None
    assert b.address("food_lead", "ev-1", "email", None) == "food-lead@staff.tsunagu.example"
    assert b.address("team", "welfare_fund", "webhook", None) == "welfare_fund"
    assert b.address("team", "welfare_fund", "sms", None) is None  # staff: email only


def test_residents_are_reached_at_the_details_they_gave():
    b = book()
    assert b.address("resident", "case-1", "email", CONTACT) == "hanako@example.jp"
    assert b.address("resident", "case-1", "sms", CONTACT) == "09012345678"
    assert b.address("resident", "case-1", "phone", CONTACT) == "09012345678"
    assert b.address("borrower", "L-1", "letter", CONTACT) == "埼玉県川口市青木2-2-2"
    assert b.address("resident", "case-1", "email", {"email": "  "}) is None
    assert b.address("resident", "case-1", "letter", None) is None


def test_config_refuses_unknown_programmes_and_placeholders():
    with pytest.raises(ValidationError):
        NotifyConfig(webhooks={"flying": "https://chat.example/hook"})
    with pytest.raises(ValidationError):
        NotifyConfig(team_address_pattern="{team}@example.jp")
    with pytest.raises(ValidationError):
        NotifyConfig(staff_address_pattern="{name}@example.jp")


def test_a_lease_must_outlast_every_send():
    with pytest.raises(ValidationError, match="lease_seconds"):
        NotifyConfig(lease_seconds=20, smtp_timeout_seconds=30)


def test_a_lease_must_outlast_a_batch_queueing_for_smtp_connections():
    # 20 emails on 4 connections: 5 rounds of up to 30 s each before the batch is marked.
    with pytest.raises(ValidationError, match="lease_seconds"):
        NotifyConfig(lease_seconds=120, smtp_timeout_seconds=30, batch_size=20, smtp_connections=4)
    NotifyConfig(lease_seconds=160, smtp_timeout_seconds=30, batch_size=20, smtp_connections=4)
    NotifyConfig(lease_seconds=130, smtp_timeout_seconds=30, batch_size=20, smtp_connections=5)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TSUNAGU_NOTIFY_TEAM_ADDRESS_PATTERN", "{programme}@council.example.jp")
    monkeypatch.setenv("TSUNAGU_NOTIFY_WEBHOOKS", '{"welfare_fund": "https://chat.example/h"}')
    config = NotifyConfig()
    assert config.team_address_pattern == "{programme}@council.example.jp"
    assert config.webhooks == {"welfare_fund": "https://chat.example/h"}
    assert config.sender_lines() == ("川口市社会福祉協議会", "電話 048-000-0000")


def test_a_clock_offset_moves_notify_time_and_is_refused_in_prod():
    from datetime import UTC, datetime, timedelta

    from tsunagu.notify.bootstrap import build_runtime
    from tsunagu.shared.clock import system_clock
    from tsunagu.shared.settings import Settings

    test = Settings(service="notify", env="test")
    assert build_runtime(test, config=NotifyConfig()).clock is system_clock
    moved = build_runtime(test, config=NotifyConfig(clock_offset_seconds=11 * 3600))
    ahead = moved.clock() - datetime.now(UTC)
    assert timedelta(hours=11) - timedelta(seconds=5) < ahead <= timedelta(hours=11)
    prod = Settings(service="notify", env="prod")
    with pytest.raises(RuntimeError, match="TSUNAGU_NOTIFY_CLOCK_OFFSET_SECONDS"):
        build_runtime(prod, config=NotifyConfig(clock_offset_seconds=3600))
