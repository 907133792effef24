"""mypy in strict mode on geo/ and the dispatch core (pyproject's [tool.mypy])."""

from __future__ import annotations

import subprocess
import sys

from dispatch.settings import REPO_ROOT


def test_core_and_geo_type_check_strictly() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
