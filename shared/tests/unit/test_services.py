"""Services register themselves through package entry points; shared names none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tsunagu.shared import services
from tsunagu.shared.settings import Settings

SHARED = Path(services.__file__).parent


def test_every_installed_service_registers_its_package_and_port() -> None:
    found = services.registered()
    assert list(found) == ["intake", "routing", "notify", "food_distribution"]  # by port
    assert {s.package for s in found.values()} == {f"tsunagu.{name}" for name in found}
    assert [s.port for s in found.values()] == [8000, 8001, 8002, 8003]


def test_the_default_port_comes_from_the_registration() -> None:
    assert Settings(service="notify").port == 8002
    assert Settings(service="notify", http_port=9100).port == 9100


def test_an_unknown_service_is_named_with_the_installed_ones() -> None:
    with pytest.raises(LookupError, match="installed: intake, routing"):
        services.service("billing")


def test_shared_names_no_service_package() -> None:
    """No module of shared imports a service or spells a service's package name in code
    (docstrings may show how a service registers)."""
    for path in SHARED.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and (body := node.body)
            and isinstance(body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                for module in modules:
                    assert not module.startswith(("tsunagu.intake", "tsunagu.routing")), path
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                for name in ("intake", "routing", "notify", "food_distribution"):
                    assert f"tsunagu.{name}" not in node.value, (path, node.value)
