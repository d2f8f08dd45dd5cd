"""Lets the messaging tests import their probe services by module name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
