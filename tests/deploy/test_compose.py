"""deploy/compose/compose.yaml: valid against the Compose Specification once interpolated like
`docker compose config`, and keeps the rules (health checks, ordering, no secrets in the file)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tsunagu.shared.services import names, registered
from tsunagu.shared.settings import Settings

SERVICES = names()
DEFAULT_PORTS = {name: s.port for name, s in registered().items()}

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose"
SECRETS: tuple[str, ...] = ()
VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\})")


def env_example() -> dict[str, str]:
    values = {}
    for line in (COMPOSE / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = env.get(name)
        if op in (":-", ":?") and value == "":
            value = None
        if value is not None:
            return value
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise ValueError(f"required variable {name} is missing: {arg}")
        return ""

    return VARIABLE.sub(substitute, text)


def compose_text() -> str:
    return (COMPOSE / "compose.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    env = env_example() | {name: f"test-{name.lower()}" for name in SECRETS}
    return yaml.safe_load(interpolate(compose_text(), env))


def test_compose_file_matches_the_compose_specification(project):
    schema = json.loads((COMPOSE / "schema" / "compose-spec.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(project)
    ]
    assert not errors, "\n".join(errors)


def test_the_schema_check_catches_a_misspelt_key(project):
    schema = json.loads((COMPOSE / "schema" / "compose-spec.json").read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(project))
    broken["services"]["intake"]["restart_policy"] = "always"
    assert not jsonschema.Draft202012Validator(schema).is_valid(broken)


def test_every_variable_is_documented_in_env_example():
    used = {m.group("name") for m in VARIABLE.finditer(compose_text()) if m.group("name")}
    assert used <= set(env_example()), used - set(env_example())


def test_secrets_are_files_and_never_written_in_the_file_or_env():
    example = env_example()
    assert not [k for k in example if any(w in k for w in ("SECRET", "PASSWORD", "KEY"))]
    raw = yaml.safe_load(compose_text())
    for name, secret in raw["secrets"].items():
        assert set(secret) == {"file"} and secret["file"].startswith("./secrets/"), name
    assert "secrets/" in (COMPOSE / ".gitignore").read_text(encoding="utf-8")
    postgres = raw["services"]["postgres"]
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    for service in SERVICES:
        env = raw["services"][service]["environment"]
        assert not [k for k, v in env.items() if "PASSWORD" in k and not k.endswith("_FILE")]
        assert (
            "@" in env["TSUNAGU_DATABASE_URL"]
            and ":" not in env["TSUNAGU_DATABASE_URL"].split("//")[1].split("@")[0]
        ), "no password in the URL"


def test_the_secrets_command_makes_every_file_compose_mounts(tmp_path):
    from tsunagu.shared.cli import write_compose_secrets

    write_compose_secrets(str(tmp_path / "secrets"))
    raw = yaml.safe_load(compose_text())
    for name, secret in raw["secrets"].items():
        assert (tmp_path / secret["file"]).exists(), name
    again = {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()}
    write_compose_secrets(str(tmp_path / "secrets"))  # never overwrites
    assert again == {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()}
    jaas = again["kafka_jaas.conf"]
    for user in ("admin", "intake", "routing", "notify", "food-distribution"):
        assert f'user_{user}="{again[f"kafka_password_{user}"].strip()}"' in jaas


def test_kafka_authenticates_every_client_and_denies_without_an_acl(project):
    kafka = project["services"]["kafka"]["environment"]
    listeners = kafka["KAFKA_LISTENERS"].split(",")
    assert "SASL_PLAINTEXT://:9092" in listeners
    # The only unauthenticated listener is the controller's, on the container's loopback.
    assert [x for x in listeners if not x.startswith("SASL_")] == ["CONTROLLER://localhost:9093"]
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    for service in SERVICES:
        env = project["services"][service]["environment"]
        assert env["TSUNAGU_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["TSUNAGU_KAFKA_SASL_USERNAME"] == service.replace("_", "-")
    init = project["services"]["init"]
    assert init["depends_on"]["kafka-acls"]["condition"] == "service_completed_successfully"


def test_the_acl_script_matches_the_registry():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "generate_kafka", COMPOSE.parent / "k8s" / "generate_kafka.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    script = (COMPOSE / "kafka-acls.sh").read_text(encoding="utf-8")
    assert script == module.compose_acls()
    assert 'User:routing --operation Describe --operation Read --topic "intake.staff.v1"' in script
    assert (
        'User:routing --operation Describe --operation Write --topic "intake.case.v1"' not in script
    )


def test_each_service_connects_as_its_own_database_role(project):
    for service in SERVICES:
        env = project["services"][service]["environment"]
        assert env["TSUNAGU_DATABASE_URL"].startswith(f"postgresql+asyncpg://tsunagu_{service}@")
        assert env["TSUNAGU_DATABASE_PASSWORD_FILE"] == f"/run/secrets/db_password_{service}"
    init = project["services"]["init"]
    assert "tsunagu db-roles" in init["command"][-1]
    assert "migrate --require-roles" in init["command"][-1]


def test_infrastructure_is_pinned_and_checked(project):
    services = project["services"]
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert services["postgres"]["image"] == "postgres:18"
    for name, service in services.items():
        image = service["image"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), name
    for name in ("kafka", "postgres"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped"
        assert services[name]["volumes"], f"{name} keeps its data in a volume"


def test_init_job_creates_topics_then_migrates_once_infrastructure_is_healthy(project):
    init = project["services"]["init"]
    script = init["command"][-1]
    assert (
        script.index("tsunagu db-roles")
        < script.index("tsunagu topics create")
        < script.index("tsunagu migrate")
    )
    assert init["restart"] == "no"
    # The ACL job waits for a healthy broker; the init job for the ACLs.
    assert {k: v["condition"] for k, v in init["depends_on"].items()} == {
        "kafka-acls": "service_completed_successfully",
        "postgres": "service_healthy",
    }
    acls = project["services"]["kafka-acls"]
    assert acls["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_each_service_is_healthchecked_ordered_and_stops_gracefully(project):
    graceful = Settings().graceful_timeout_seconds
    for service in SERVICES:
        s = project["services"][service]
        assert s["command"] == ["tsunagu", "serve", service]
        env = s["environment"]
        assert env["TSUNAGU_HTTP_HOST"] == "0.0.0.0"
        port = DEFAULT_PORTS[service]
        assert env["TSUNAGU_HTTP_PORT"] == str(port)
        assert s["ports"][0].endswith(f":{port}:{port}")
        assert s["healthcheck"]["test"] == ["CMD", "tsunagu-healthcheck", "/readyz"]
        assert s["restart"] == "unless-stopped"
        assert {k: v["condition"] for k, v in s["depends_on"].items()} == {
            "init": "service_completed_successfully",
            "kafka": "service_healthy",
            "postgres": "service_healthy",
        }
        assert int(s["stop_grace_period"].rstrip("s")) > graceful
        assert s["read_only"] is True and s["cap_drop"] == ["ALL"]
        assert any(t.startswith("/tmp") for t in s["tmpfs"])
        assert s["user"] == "10001:10001"
        assert s["deploy"]["resources"]["limits"]["memory"]


def test_each_service_gets_only_the_keys_it_needs(project):
    """Intake alone signs staff tokens and holds the master key (ADR 12); routing never sees
    residents' contact details; each caller has its own credential, each receiver accepts
    exactly the callers it serves."""
    wanted = {
        "intake": {"auth_private_key", "auth_public_key", "master_key",
                   "service_credential_intake", "service_credentials_intake"},
        "routing": {"auth_public_key", "service_credentials_of_intake"},
        "notify": {"auth_public_key", "contact_key", "service_credential_notify",
                   "service_credentials_of_intake"},
        "food_distribution": {"auth_public_key", "contact_key",
                              "service_credential_food_distribution",
                              "service_credentials_of_intake"},
    }  # fmt: skip
    for service, secrets in wanted.items():
        s = project["services"][service]
        kafka_user = service.replace("_", "-")
        own = {f"db_password_{service}", f"kafka_password_{kafka_user}"}
        assert set(s.get("secrets", [])) == secrets | own, service
        env = s["environment"]
        assert ("TSUNAGU_AUTH_PRIVATE_KEY_FILE" in env) == (service == "intake"), service
        assert ("TSUNAGU_MASTER_KEY_FILE" in env) == (service == "intake"), service
        assert ("TSUNAGU_CONTACT_KEY_FILE" in env) == ("contact_key" in secrets), service
        assert not [k for k in env if k.endswith(("_KEY", "_CREDENTIAL", "_CREDENTIALS"))]
        assert env["TSUNAGU_ENV"] == "prod"
    urls = json.loads(project["services"]["notify"]["environment"]["TSUNAGU_INTERNAL_URLS"])
    assert urls["intake"] == "http://intake:8000"


def test_the_credential_files_pair_callers_with_receivers(tmp_path):
    from tsunagu.shared.cli import write_compose_secrets

    write_compose_secrets(str(tmp_path))
    own = {
        s: (tmp_path / f"service_credential_{s}").read_text().strip()
        for s in ("intake", "notify", "food_distribution")
    }
    at_intake = json.loads((tmp_path / "service_credentials_intake.json").read_text())
    assert at_intake == {"notify": own["notify"], "food_distribution": own["food_distribution"]}
    of_intake = json.loads((tmp_path / "service_credentials_of_intake.json").read_text())
    assert of_intake == {"intake": own["intake"]}
