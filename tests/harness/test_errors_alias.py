"""``harness.errors`` (where the round-2 README told users to import ConfigError from) still imports, with one
warning line naming the new place, and gives the same classes as ``core.errors``."""

import subprocess
import sys

from tests.conftest import ROOT


def test_the_old_import_warns_once_and_gives_the_same_classes():
    code = (
        "from harness.errors import ConfigError, DivergedError\n"
        "import harness.errors, core.errors\n"
        "assert ConfigError is core.errors.ConfigError and DivergedError is core.errors.DivergedError\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    warning = [line for line in out.stderr.splitlines() if "Warning" in line]
    assert len(warning) == 1 and "core.errors" in warning[0]
