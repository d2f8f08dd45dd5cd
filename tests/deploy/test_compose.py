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
SECRETS = (
    "TSUNAGU_AUTH_SECRET",
    "TSUNAGU_CONTACT_KEY",
    "TSUNAGU_DB_PASSWORD",
    "TSUNAGU_MASTER_KEY",
    "TSUNAGU_CREDENTIAL_INTAKE",
    "TSUNAGU_CREDENTIAL_NOTIFY",
    "TSUNAGU_CREDENTIAL_FOOD",
)
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


def test_secrets_are_required_and_never_written_in_the_file():
    example = env_example()
    for name in SECRETS:
        assert example[name] == "", f"{name} must be empty in .env.example"
        with pytest.raises(ValueError, match=name):
            interpolate(compose_text(), example | {n: "x" for n in SECRETS if n != name})
    raw = yaml.safe_load(compose_text())
    env = raw["x-app-env"]
    for name in ("TSUNAGU_AUTH_SECRET", "TSUNAGU_CONTACT_KEY"):
        assert env[name].startswith("${"), name
    assert "${TSUNAGU_DB_PASSWORD" in env["TSUNAGU_DATABASE_URL"]
    postgres = raw["services"]["postgres"]
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"


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
    assert script.index("tsunagu topics create") < script.index("tsunagu migrate")
    assert init["restart"] == "no"
    assert {k: v["condition"] for k, v in init["depends_on"].items()} == {
        "kafka": "service_healthy",
        "postgres": "service_healthy",
    }


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


def test_only_intake_holds_the_master_key_and_each_service_its_own_credential(project):
    """ADR 12: the master key stays in intake; each caller presents its own credential, and
    each receiver accepts exactly the callers it serves."""
    services = project["services"]

    def env(name: str) -> dict[str, Any]:
        environment: dict[str, Any] = services[name]["environment"]
        return environment

    assert "TSUNAGU_MASTER_KEY" in env("intake")
    for name in ("routing", "notify", "food_distribution"):
        assert "TSUNAGU_MASTER_KEY" not in env(name)
    own = {n: env(n).get("TSUNAGU_SERVICE_CREDENTIAL") for n in SERVICES}
    assert own == {
        "intake": "test-tsunagu_credential_intake",
        "routing": None,
        "notify": "test-tsunagu_credential_notify",
        "food_distribution": "test-tsunagu_credential_food",
    }
    accepted = {n: json.loads(env(n)["TSUNAGU_SERVICE_CREDENTIALS"]) for n in SERVICES}
    assert accepted["intake"] == {
        "notify": own["notify"], "food_distribution": own["food_distribution"],
    }  # fmt: skip
    for name in ("routing", "notify", "food_distribution"):
        assert accepted[name] == {"intake": own["intake"]}
    urls = json.loads(env("notify")["TSUNAGU_INTERNAL_URLS"])
    assert urls["intake"] == "http://intake:8000"
