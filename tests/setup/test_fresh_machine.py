"""A new user's machine: `make` finds or installs what it needs when it runs, and the caller's
shell does not change what the tests see.

The first two tests run the Makefile's steps in a clean environment: an empty HOME (no caches)
and a PATH on which there is no uv, as on the machine the README describes before its first run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tsunagu.devstack.pytest_plugin import TEST_RUN_VARIABLES, scrub_environment

REPO = Path(__file__).resolve().parents[2]
ENSURE_UV = REPO / "deploy" / "tools" / "ensure-uv.sh"


def _python_with_pip() -> str:
    """The machine's own python3 with pip (not this virtual environment's). One without the uv
    package is preferred, so that the test walks the installation a new machine walks."""
    venv_bin = str(Path(sys.prefix) / "bin")
    dirs = [p for p in os.environ["PATH"].split(os.pathsep) if p and p != venv_bin]
    candidates = [str(Path(d) / "python3") for d in [*dirs, "/usr/bin"]]
    found: list[tuple[bool, str]] = []
    for candidate in dict.fromkeys(c for c in candidates if os.access(c, os.X_OK)):
        probe = subprocess.run(
            [
                candidate,
                "-c",
                "import sys, pip, importlib.util as u;"
                "print(sys.executable, u.find_spec('uv') is not None)",
            ],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0:
            executable, has_uv = probe.stdout.split()
            found.append((has_uv == "True", executable))
    assert found, "no python3 with pip outside the virtual environment (the README asks for one)"
    return sorted(found)[0][1]


@pytest.fixture
def clean_machine(tmp_path: Path) -> dict[str, str]:
    """An environment with an empty HOME and a PATH without uv (python3 with pip stays)."""
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(_python_with_pip())
    venv_bin = str(Path(sys.prefix) / "bin")
    kept = [
        p
        for p in os.environ["PATH"].split(os.pathsep)
        if p and p != venv_bin and not os.access(Path(p) / "uv", os.X_OK)
    ]
    path = os.pathsep.join([str(bin_dir), *kept])
    assert shutil.which("uv", path=path) is None
    return {"HOME": str(home), "PATH": path, "LANG": "C.UTF-8"}


def test_make_names_no_path_that_does_not_exist_before_uv_is_installed(
    clean_machine: dict[str, str],
) -> None:
    """The Makefile used to decide where uv is when it was read (`~/.local/bin/uv`), before uv
    was installed, and pip then put it elsewhere: every path a recipe names must exist."""
    dry = subprocess.run(
        ["make", "-n", "env", "kafka", "test-tools", "test", "up", "lint"],
        cwd=REPO,
        env=clean_machine,
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0, dry.stderr
    paths = set(re.findall(r"(?<![\w$.{-])((?:/|~/|\./)?[\w.-]+(?:/[\w.-]+)+)", dry.stdout))
    assert "deploy/tools/uv.sh" in paths  # uv is found when the recipe runs
    missing = sorted(p for p in paths if not (REPO / Path(p).expanduser()).exists())
    assert missing == [], f"`make -n` names paths that do not exist: {missing}\n{dry.stdout}"


def test_uv_is_found_or_installed_when_it_is_not_on_path(clean_machine: dict[str, str]) -> None:
    first = subprocess.run(
        ["bash", str(ENSURE_UV)], env=clean_machine, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stderr
    uv = first.stdout.strip().splitlines()[-1]
    version = subprocess.run([uv, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("uv "), (uv, version)
    if "installing" in first.stderr:
        # Installed into the project's cache under the (empty) HOME, and said so.
        assert uv == str(Path(clean_machine["HOME"]) / ".cache" / "tsunagu" / "uv" / "bin" / "uv")
        assert "[tsunagu] uv not found: installing it with pip" in first.stderr

    again = subprocess.run(
        ["bash", str(ENSURE_UV)], env=clean_machine, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0
    assert again.stdout.strip() == uv  # found, not installed a second time
    assert "installing" not in again.stderr

    # The Makefile's wrapper runs that uv.
    wrapped = subprocess.run(
        [str(REPO / "deploy" / "tools" / "uv.sh"), "--version"],
        env=clean_machine,
        capture_output=True,
        text=True,
    )
    assert wrapped.stdout == version.stdout


def test_only_the_test_run_variables_survive_the_scrub() -> None:
    environ = {
        "TSUNAGU_DEMO_PASSWORD": "mine",
        "TSUNAGU_ENV": "prod",
        "TSUNAGU_TEST_KAFKA_PORT": "21092",
        "TSUNAGU_KAFKA_BOOTSTRAP": "127.0.0.1:9",
        "HOME": "/home/someone",
    }
    removed = scrub_environment(environ)
    assert removed == ["TSUNAGU_DEMO_PASSWORD", "TSUNAGU_ENV"]
    assert environ == {
        "TSUNAGU_TEST_KAFKA_PORT": "21092",
        "TSUNAGU_KAFKA_BOOTSTRAP": "127.0.0.1:9",
        "HOME": "/home/someone",
    }
    assert "TSUNAGU_DEMO_PASSWORD" not in TEST_RUN_VARIABLES
    assert "TSUNAGU_DEMO_PASSWORD" not in os.environ  # this session's own environment


@pytest.mark.integration
def test_a_demo_password_in_the_shell_does_not_reach_the_test_stack(infra: object) -> None:
    """The README tells users to set TSUNAGU_DEMO_PASSWORD for `make up`; a test session started
    from that shell must still seed its demo users with the password the tests log in with.
    (Run against the servers of this session, which the nested session shares.)"""
    env = {**os.environ, "TSUNAGU_DEMO_PASSWORD": "the-users-own-password"}
    nested = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            str(REPO / "services" / "intake" / "tests" / "integration" / "test_intake_pages.py"),
            "-k",
            "login",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = nested.stdout.strip().splitlines()[-1] if nested.stdout.strip() else ""
    assert nested.returncode == 0, nested.stdout[-4000:] + nested.stderr[-2000:]
    assert re.search(r"\b[1-9]\d* passed", summary), summary
    assert "TSUNAGU_DEMO_PASSWORD" in nested.stdout  # the header names what was ignored


def test_the_launcher_gives_the_food_desk_stock_at_todays_demo_events() -> None:
    """`make up` passes intake's list of today's events to the food demo, which must read it."""
    from tsunagu.food_distribution.demo import DemoEvent

    env = {**os.environ, "TSUNAGU_ENV": "dev"}
    listed = subprocess.run(
        [sys.executable, "-m", "tsunagu.intake.demo", "--todays-events"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    events = [DemoEvent.parse(line) for line in listed]
    assert {e.venue_id for e in events} == {"aeon-mall", "higashikawaguchi", "clinic-community"}
    assert all(e.venue_name for e in events)
    assert len({e.event_id[:8] for e in events}) == 1  # all today's


def test_without_root_a_missing_tool_is_one_line_saying_how_to_install_it(tmp_path: Path) -> None:
    """Not root (or no apt-get): nothing is installed, one line names the package, and the step
    fails. Go is made missing by a PATH without it."""
    path = "/usr/bin:/bin"
    assert shutil.which("go", path=path) is None, "this check needs a PATH without go"
    command = ["bash", str(REPO / "deploy" / "tools" / "ensure-system.sh"), "go"]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "running as root: setpriv (util-linux) is needed to drop to nobody"
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    result = subprocess.run(
        command,
        env={"PATH": path, "HOME": str(tmp_path), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("[tsunagu] missing: Go (builds kustomize).")
    assert "apt-get install -y --no-install-recommends golang-go" in lines[0]
