#!/usr/bin/env python3
"""Container health check: GET a path (default /healthz) of the service this container serves.

The port is TSUNAGU_HTTP_PORT, else the default port of the service named by PID 1's command
(``tsunagu serve <service>``). A container running a one-shot command (migrate, topics, dlq)
serves nothing and is healthy. Exit 0 when healthy, 1 when not.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path


def served_port(cmdline: Sequence[str], env: Mapping[str, str]) -> int | None:
    """The HTTP port of ``tsunagu serve <service>`` in ``cmdline``, or None if not serving."""
    args = list(cmdline)
    if "serve" not in args[:-1]:
        return None
    if env.get("TSUNAGU_HTTP_PORT"):
        return int(env["TSUNAGU_HTTP_PORT"])
    from tsunagu.shared.services import registered

    known = registered().get(args[args.index("serve") + 1])
    return 8000 if known is None else known.port


def main(argv: Sequence[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz"
    raw = Path("/proc/1/cmdline").read_bytes()
    port = served_port([a.decode() for a in raw.split(b"\0") if a], os.environ)
    if port is None:
        return 0
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=4) as response:
            return 0 if response.status == 200 else 1
    except Exception as exc:  # any failure to answer is unhealthy
        print(f"unhealthy: {path} on port {port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
