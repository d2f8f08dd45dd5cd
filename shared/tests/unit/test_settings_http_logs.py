"""Settings, the shared HTTP app and logging."""

import json

import pytest
from fastapi.testclient import TestClient

from tsunagu.shared.crypto import ContactSealer, ContactSealError, new_key
from tsunagu.shared.http import create_app
from tsunagu.shared.logs import configure_logging, get_logger
from tsunagu.shared.settings import Settings


def test_prod_refuses_the_development_secrets(monkeypatch):
    monkeypatch.setenv("TSUNAGU_ENV", "prod")
    with pytest.raises(RuntimeError, match="AUTH_SECRET"):
        Settings().check_production()
    monkeypatch.setenv("TSUNAGU_AUTH_SECRET", "a-real-secret-from-the-vault-0123456789")
    monkeypatch.setenv("TSUNAGU_CONTACT_KEY", new_key())
    Settings(service="routing").check_production()  # calls no other service
    with pytest.raises(RuntimeError, match="SERVICE_CREDENTIAL"):
        Settings(service="notify").check_production()
    monkeypatch.setenv("TSUNAGU_SERVICE_CREDENTIAL", "a-credential-of-this-service-0123456789")
    Settings(service="notify").check_production()
    with pytest.raises(RuntimeError, match="MASTER_KEY"):
        Settings(service="intake").check_production()
    monkeypatch.setenv("TSUNAGU_MASTER_KEY", new_key())
    Settings(service="intake").check_production()


def test_prod_has_no_default_credentials_for_other_services(monkeypatch):
    monkeypatch.setenv("TSUNAGU_ENV", "prod")
    assert Settings().credential_of("notify") is None
    monkeypatch.setenv("TSUNAGU_SERVICE_CREDENTIALS", '{"notify": "n-credential"}')
    assert Settings().credential_of("notify") == "n-credential"
    assert Settings().credential_of("food_distribution") is None


def test_each_service_has_its_port_and_schema():
    assert Settings(service="food_distribution").port == 8003
    assert Settings(service="routing", http_port=9001).port == 9001
    assert Settings(service="notify").db_schema == "notify"


def test_oversized_bodies_are_refused_before_the_app_reads_them():
    app = create_app(title="t", service="t", login_url="/login", readiness=[], max_body_bytes=100)

    @app.post("/echo")
    async def echo(body: dict) -> dict:
        return body

    client = TestClient(app)
    assert client.post("/echo", json={"a": "x"}).status_code == 200
    too_big = client.post("/echo", json={"a": "x" * 200})
    assert too_big.status_code == 413


def test_readiness_reports_each_check():
    async def ok() -> bool:
        return True

    async def down() -> None:
        raise ConnectionError("no database")

    good = TestClient(create_app(title="t", service="t", login_url="/l", readiness=[("db", ok)]))
    assert good.get("/readyz").status_code == 200
    bad = create_app(
        title="t", service="t", login_url="/l", readiness=[("db", ok), ("kafka", down)]
    )
    response = TestClient(bad).get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"db": "ok", "kafka": "unavailable"}
    assert TestClient(bad).get("/healthz").status_code == 200
    assert "python_info" in TestClient(bad).get("/metrics").text


def test_personal_data_never_reaches_a_log_line(capsys):
    configure_logging("test")
    get_logger().info("case_taken", case_id="c1", name="川口 花子", phone="090-1234-5678")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["case_id"] == "c1"
    assert line["name"] == "[redacted]"
    assert line["phone"] == "[redacted]"


def test_sealed_contact_details_open_only_with_the_key():
    sealer = ContactSealer(new_key())
    token = sealer.seal({"name": "川口 花子", "phone": "09012345678"})
    assert "09012345678" not in token
    assert sealer.open(token)["name"] == "川口 花子"
    with pytest.raises(ContactSealError):
        ContactSealer(new_key()).open(token)


def test_kafka_security_options_reach_every_client():
    from tsunagu.shared.broker import broker_security

    plain = Settings()
    assert plain.kafka_client_options() == {"security_protocol": "PLAINTEXT"}
    assert broker_security(plain) is None
    scram = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="routing",
        kafka_sasl_password="s3cret",
    )
    options = scram.kafka_client_options()
    assert options["sasl_plain_username"] == "routing"
    assert options["sasl_plain_password"] == "s3cret"
    security = broker_security(scram)
    assert type(security).__name__ == "SASLScram512"
    assert security.username == "routing"
