"""Cross-service tests import the stack helpers by module name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
