"""The services of this installation, as they register themselves (package entry points).

Each service package declares itself in its ``pyproject.toml``::

    [project.entry-points."tsunagu.services"]
    routing = "tsunagu.routing:SERVICE"

where ``SERVICE`` is a `Service`. ``shared`` names no service: the command line, the migrations,
the default ports and the launcher all ask this registry, so a service is added or removed by
installing or uninstalling its package.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

GROUP = "tsunagu.services"


@dataclass(frozen=True)
class Service:
    """What the platform needs to know of a service: its name (also its database schema, its
    Kafka principal and consumer group), its package, and the HTTP port it listens on unless
    told otherwise."""

    name: str
    package: str
    port: int


@cache
def registered() -> dict[str, Service]:
    """Every installed service by name, in order of their ports."""
    found: dict[str, Service] = {}
    for point in entry_points(group=GROUP):
        service = point.load()
        if not isinstance(service, Service) or service.name != point.name:
            raise RuntimeError(f"entry point {point.name!r} of {GROUP} is not its Service")
        found[point.name] = service
    return dict(sorted(found.items(), key=lambda item: item[1].port))


def names() -> tuple[str, ...]:
    return tuple(registered())


def service(name: str) -> Service:
    """The service called ``name``; a `LookupError` naming the installed ones otherwise."""
    try:
        return registered()[name]
    except KeyError:
        raise LookupError(
            f"unknown service {name!r}; installed: {', '.join(names()) or 'none'}"
        ) from None
