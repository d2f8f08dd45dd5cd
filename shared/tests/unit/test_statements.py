"""Hot statements come from SQLAlchemy's compiled cache: no multi-row ``insert().values([...])``.

A statement given its rows as ``.values([{...}, {...}])`` has no cache key, so SQLAlchemy
compiles it afresh at every call (a tenth of intake's and notify's CPU under load:
benchmarks/README.md). The same multi-row insert is written by passing the rows to
``session.execute(insert(t)..., rows)``: an executemany of one cached statement, which
SQLAlchemy sends as one multi-row ``INSERT`` (and asyncpg pipelines when nothing is returned).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from tsunagu.shared import services

SHARED = Path(services.__file__).parent


def _sources() -> list[Path]:
    roots = [SHARED]
    for service in services.registered().values():
        spec = importlib.util.find_spec(service.package)
        assert spec is not None and spec.submodule_search_locations, service.package
        roots += [Path(p) for p in spec.submodule_search_locations]
    return [path for root in roots for path in sorted(root.rglob("*.py"))]


def _rows_given_to_values(tree: ast.AST) -> list[int]:
    """Lines of ``.values(<a list of rows>)``: a list, a comprehension, or a slice of one."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "values"
            and len(node.args) == 1
            and (
                isinstance(node.args[0], ast.List | ast.ListComp | ast.Tuple)
                or (
                    isinstance(node.args[0], ast.Subscript)
                    and isinstance(node.args[0].slice, ast.Slice)
                )
            )
        ):
            found.append(node.lineno)
    return found


def test_the_check_finds_rows_given_to_values() -> None:
    tree = ast.parse(
        "insert(t).values([{'a': 1}, {'a': 2}])\n"
        "insert(t).values([{'a': r} for r in rows])\n"
        "insert(t).values(rows[0:500])\n"
        "insert(t).values(a=1)\n"
        "insert(t).values({'a': 1})\n"
        "update(t).values(status='x')\n"
        "mapping.values()\n"
    )
    assert _rows_given_to_values(tree) == [1, 2, 3]


def test_no_service_gives_a_statement_its_rows_in_values() -> None:
    sources = _sources()
    assert len(sources) > 50, "the services' sources were found"
    offenders = [
        f"{path.name}:{line}"
        for path in sources
        for line in _rows_given_to_values(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == []


def test_an_in_list_is_one_array_parameter() -> None:
    """``any_of`` compiles to ``= ANY(...)`` with one bind parameter, however many values."""
    from sqlalchemy import Column, MetaData, String, Table, select
    from sqlalchemy.dialects import postgresql

    from tsunagu.shared.db import any_of

    t = Table("t", MetaData(), Column("case_id", String(36)))
    statement = select(t.c.case_id).where(any_of(t.c.case_id, "ids"))
    compiled = statement.compile(dialect=postgresql.asyncpg.dialect())
    assert "= ANY (" in str(compiled)
    assert list(compiled.params) == ["ids"]
    # The same statement object serves every list: its cache key does not hold the values.
    one = statement.params(ids=["a"])._generate_cache_key()
    other = statement.params(ids=["a", "b", "c"])._generate_cache_key()
    assert one is not None and other is not None and one.key == other.key
