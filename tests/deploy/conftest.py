"""Fixtures of the deploy checks: the kustomize binary, rendered overlays, the Kafka generator.

Nothing here needs a cluster, a container engine or the network: the overlays are rendered by
the pinned kustomize (deploy/tools/install-kustomize.sh installs it) and checked against the
schemas committed in the repository and the packages of the dev environment.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
INSTALL_SCRIPT = DEPLOY / "tools" / "install-kustomize.sh"


def _pinned_kustomize_version() -> str:
    match = re.search(r'^KUSTOMIZE_VERSION="([^"]+)"', INSTALL_SCRIPT.read_text(), re.M)
    assert match, "KUSTOMIZE_VERSION not found in deploy/tools/install-kustomize.sh"
    return match.group(1)


def find_kustomize() -> str | None:
    """$KUSTOMIZE, else the pinned binary in the tools cache, else none."""
    if os.environ.get("KUSTOMIZE"):
        return os.environ["KUSTOMIZE"]
    cache = os.environ.get("TSUNAGU_TOOLS_BIN") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tsunagu" / "bin"
    )
    pinned = Path(cache) / f"kustomize-{_pinned_kustomize_version()}"
    if pinned.is_file() and os.access(pinned, os.X_OK):
        return str(pinned)
    return None


@pytest.fixture(scope="session")
def kustomize() -> str:
    binary = find_kustomize()
    if binary is None or not shutil.which(binary):
        pytest.fail(
            f"kustomize {_pinned_kustomize_version()} is not installed: run "
            "`bash deploy/tools/install-kustomize.sh` (needs Go; `make test` does this), "
            "or point $KUSTOMIZE at a kustomize v5 binary",
            pytrace=False,
        )
    return binary


def render(kustomize: str, overlay: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kustomize, "build", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kustomize build {overlay} failed:\n{result.stderr}"
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.fixture(scope="session")
def rendered(kustomize: str) -> dict[str, list[dict[str, Any]]]:
    """Every overlay, rendered: {"dev": [objects], "prod": [objects]}."""
    return {overlay: render(kustomize, overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    """deploy/k8s/generate_kafka.py, loaded as a module (deploy/ is not a package)."""
    path = K8S / "generate_kafka.py"
    spec = importlib.util.spec_from_file_location("tsunagu_deploy_generate_kafka", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
