"""Settings, the shared HTTP app and logging."""

import json

import pytest
from fastapi.testclient import TestClient

from tsunagu.shared.auth import generate_keypair
from tsunagu.shared.crypto import ContactSealer, ContactSealError, new_key
from tsunagu.shared.http import create_app
from tsunagu.shared.internal import KeyUnavailable
from tsunagu.shared.logs import configure_logging, get_logger
from tsunagu.shared.settings import DEV_CONTACT_KEY, DEV_MASTER_KEY, Settings


def test_prod_is_the_default_and_refuses_to_start_without_keys(monkeypatch):
    monkeypatch.delenv("TSUNAGU_ENV", raising=False)
    assert Settings().env == "prod"
    with pytest.raises(RuntimeError, match="AUTH_PUBLIC_KEY"):
        Settings(service="routing").check_production()
    with pytest.raises(RuntimeError, match="AUTH_PRIVATE_KEY"):
        Settings(service="intake").check_production()


def test_prod_has_no_default_credentials_for_other_services(monkeypatch):
    monkeypatch.setenv("TSUNAGU_ENV", "prod")
    assert Settings().credential_of("notify") is None
    monkeypatch.setenv("TSUNAGU_SERVICE_CREDENTIALS", '{"notify": "n-credential"}')
    assert Settings().credential_of("notify") == "n-credential"
    assert Settings().credential_of("food_distribution") is None


def test_routing_calls_no_service_and_needs_no_credential():
    public = good_prod().verifying_key()
    good_prod(
        service="routing", auth_private_key=None, auth_public_key=public, service_credential=None
    ).check_production()


def good_prod(**overrides) -> Settings:
    private, _public = generate_keypair()
    values = {
        "service": "intake",
        "env": "prod",
        "auth_private_key": private,
        "contact_key": new_key(),
        "database_url": "postgresql+asyncpg://intake:Qx7dR2mVb9LtW4nZ@db/tsunagu",
        "master_key": new_key(),
        "service_credential": "a-credential-of-this-service-0123456789",
        **overrides,
    }
    return Settings(**values)


def test_prod_starts_with_real_secrets_and_only_intake_holds_the_private_key():
    good_prod().check_production()
    public = good_prod().verifying_key()
    good_prod(service="notify", auth_private_key=None, auth_public_key=public).check_production()
    with pytest.raises(RuntimeError, match="intake's alone"):
        good_prod(service="notify").check_production()


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"contact_key": DEV_CONTACT_KEY}, "development key"),
        ({"contact_key": "CHANGE-ME-a-Fernet-key"}, "placeholder"),
        ({"contact_key": "short"}, "shorter"),
        ({"contact_key": "not-a-fernet-key-but-long-enough-0123"}, "Fernet"),
        ({"database_url": "postgresql+asyncpg://intake:CHANGE-ME-please-1234@db/t"}, "placeholder"),
        ({"database_url": "postgresql+asyncpg://intake:abc@db/t"}, "shorter"),
        ({"kafka_sasl_password": "CHANGE-ME"}, "shorter|placeholder"),
        ({"master_key": DEV_MASTER_KEY}, "MASTER_KEY"),
        ({"service_credential": None}, "SERVICE_CREDENTIAL"),
        ({"service_credential": "short"}, "SERVICE_CREDENTIAL"),
    ],
)
def test_prod_refuses_development_placeholder_and_short_secrets(overrides, why):
    with pytest.raises(RuntimeError, match=why):
        good_prod(**overrides).check_production()


def test_local_modes_allow_development_keys_and_generate_a_key_pair():
    settings = Settings(env="dev")
    settings.check_production()
    assert "PUBLIC KEY" in settings.verifying_key()


def test_secrets_can_come_from_files(tmp_path, monkeypatch):
    _private, public = generate_keypair()
    (tmp_path / "public.pem").write_text(public + "\n")
    monkeypatch.setenv("TSUNAGU_AUTH_PUBLIC_KEY_FILE", str(tmp_path / "public.pem"))
    assert Settings(env="prod").verifying_key().strip() == public.strip()


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


def test_log_records_go_to_stdout_as_it_is_now(monkeypatch, capsys):
    import io
    import logging

    swapped = io.StringIO()
    monkeypatch.setattr("sys.stdout", swapped)
    configure_logging("test")
    swapped.close()  # a test runner closes the stdout it swapped in
    monkeypatch.undo()
    logging.getLogger("tsunagu.test").warning("after_the_swap")
    captured = capsys.readouterr()
    assert "after_the_swap" in captured.out
    assert "Logging error" not in captured.err


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


def database_error_with_personal_data() -> Exception:
    """What SQLAlchemy raises for a unique violation: the driver's DETAIL names the values."""
    import asyncpg
    from sqlalchemy.exc import IntegrityError

    driver = asyncpg.exceptions.UniqueViolationError(
        'duplicate key value violates unique constraint "uq_resident_phone"\n'
        "DETAIL:  Key (phone)=(09012345678) already exists."
    )
    try:
        try:
            raise driver
        except asyncpg.PostgresError as exc:
            raise IntegrityError(
                "INSERT INTO resident (name, phone) VALUES ($1, $2)",
                ("川口 花子", "09012345678"),
                exc,
            ) from exc
    except IntegrityError as wrapped:
        return wrapped


def test_errors_are_described_by_class_and_sqlstate_only():
    from tsunagu.shared.logs import describe_error

    described = describe_error(database_error_with_personal_data())
    assert "IntegrityError" in described and "sqlstate=23505" in described
    assert "0901234" not in described and "川口" not in described


def test_logged_exceptions_carry_no_message_or_parameters(capsys):
    import logging

    configure_logging("intake", "INFO")
    try:
        raise database_error_with_personal_data()
    except Exception:
        get_logger("t").exception("insert_failed")
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    out = capsys.readouterr().out
    assert "sqlstate=23505" in out and "insert_failed" in out
    assert "0901234" not in out and "川口" not in out and "VALUES" not in out


def test_an_unexpected_error_is_a_plain_500_and_logs_no_personal_data(capsys):
    configure_logging("intake", "INFO")
    app = create_app(title="t", service="t", login_url="/login", readiness=[])

    @app.post("/boom")
    def boom() -> None:
        raise database_error_with_personal_data()

    response = TestClient(app, raise_server_exceptions=False).post("/boom")
    assert response.status_code == 500
    assert "0901234" not in response.text
    out = capsys.readouterr().out
    assert "sqlstate=23505" in out and "/boom" in out
    assert "0901234" not in out and "川口" not in out


def test_a_key_intake_cannot_give_is_a_503_to_try_again_not_a_500():
    app = create_app(title="t", service="t", login_url="/login", readiness=[])

    @app.get("/letter")
    def letter() -> None:
        raise KeyUnavailable("ReadTimeout")

    client = TestClient(app, raise_server_exceptions=False)
    answer = client.get("/letter")
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert answer.json()["code"] == "key_unavailable"
    assert "しばらくしてから" in answer.json()["message"]
    page = client.get("/letter", headers={"Accept": "text/html"})
    assert page.status_code == 503 and page.headers["retry-after"]
    assert "しばらくしてから" in page.text


def test_every_response_has_the_security_headers():
    app = create_app(title="t", service="t", login_url="/login", readiness=[])
    client = TestClient(app)
    response = client.get("/healthz")
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["referrer-policy"] == "same-origin"
