"""The broker factory reads a list of bootstrap servers as a list (a three-node cluster)."""

from tsunagu.shared.broker import bootstrap_servers, create_broker
from tsunagu.shared.settings import Settings


def test_several_bootstrap_servers_are_split() -> None:
    assert bootstrap_servers("127.0.0.1:9092, 127.0.0.1:9094,127.0.0.1:9096") == [
        "127.0.0.1:9092",
        "127.0.0.1:9094",
        "127.0.0.1:9096",
    ]
    assert bootstrap_servers("kafka:9092") == ["kafka:9092"]


def test_the_broker_is_given_every_server() -> None:
    settings = Settings(service="routing", env="test", kafka_bootstrap="a:9092,b:9092,c:9092")
    broker = create_broker(settings)
    consumer_factory = broker.config.broker_config.builder  # type: ignore[attr-defined]
    assert consumer_factory.keywords["bootstrap_servers"] == ["a:9092", "b:9092", "c:9092"]
