"""Make the scripted teacher importable as `forge_teacher` (also by `hermes4 serve --scripted` subprocesses)."""

import sys
from pathlib import Path

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
