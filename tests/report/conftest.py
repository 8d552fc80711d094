"""Report tests reuse the grading tests' builders (tests/grading/factories.py)."""

from __future__ import annotations

import sys
from pathlib import Path

_GRADING_TESTS = str(Path(__file__).resolve().parents[1] / "grading")
if _GRADING_TESTS not in sys.path:
    sys.path.append(_GRADING_TESTS)
