"""pyinstrument around a process of the benchmark (a service, or a floor/framework hop).

``--profile-services routing,framework-hop1`` runs those processes as
``python -m pyinstrument -i 0.005 -r pyisession -o <log dir>/profile-<name>.pyisession -m ...``;
when they stop (SIGTERM, handled gracefully) the session is written and rendered to text (all
frames, library code included, nodes under 1 % folded) and HTML next to it. The profile is of
wall-clock time on the event loop's thread: time waiting on the network shows under
``epoll.poll``, time the process was runnable but not scheduled shows wherever it stood.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: Seconds between samples: coarse enough that a few minutes of a busy service stay small.
INTERVAL = 0.005
#: A profiled process writes its session when it stops; give it this long before SIGKILL.
STOP_TIMEOUT = 180.0


def wrap(module_args: list[str], session: Path) -> list[str]:
    """The command line that runs ``python -m <module_args>`` under pyinstrument."""
    return [sys.executable, "-m", "pyinstrument", "-i", str(INTERVAL), "-r", "pyisession",
            "-o", str(session), "-m", *module_args]  # fmt: skip


def render(session: Path) -> str:
    """Render a written session as text and HTML; returns the text report's path or why not."""
    if not session.exists() or session.stat().st_size == 0:
        return f"no profile written ({session})"
    text = session.with_suffix(".txt")
    subprocess.run(
        [sys.executable, "-m", "pyinstrument", "--load", str(session), "-r", "text", "--show-all",
         "--no-color", "-p", "processor_options.filter_threshold=0.01", "-o", str(text)],
        check=False, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pyinstrument", "--load", str(session), "-r", "html",
         "-o", str(session.with_suffix(".html"))],
        check=False, capture_output=True,
    )  # fmt: skip
    return str(text)
