"""The layering rule, checked through sys.modules in a fresh interpreter, bottom to top: the leaf core imports
nothing of the project; architectures and tasks know nothing of the harness, the reports or the studies; the
reports import no harness nor torch; neither the harness nor the reports import the studies (the top floor)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def loaded_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}


def every_module(*packages: str) -> str:
    """A statement importing every module of ``packages`` (a package's __init__ alone may import little)."""
    return (
        "import importlib, pkgutil; [importlib.import_module(m.name) for p in "
        f"({', '.join(f'importlib.import_module({p!r})' for p in packages)},) "
        "for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')]"
    )


@pytest.mark.parametrize(
    "packages,forbidden",
    [
        (("architectures", "tasks"), {"harness", "reports", "studies", "benchmarks"}),
        (("core",), {"harness", "reports", "studies", "architectures", "tasks", "torch"}),
        (("harness",), {"reports", "studies"}),
    ],
)
def test_lower_floors_import_nothing_above_them(packages, forbidden):
    loaded = loaded_after(every_module(*packages))
    assert set(packages) <= loaded and loaded & forbidden == set()


def test_reports_read_records_without_the_harness_torch_or_hydra():
    """``python -m reports`` (and the claims and replications reports) read JSON and .npz files: importing every
    module of ``reports`` loads no harness, torch or hydra."""
    loaded = loaded_after(every_module("reports"))
    assert {"reports", "core"} <= loaded and loaded & {
        "harness",
        "studies",
        "torch",
        "hydra",
        "tasks",
        "architectures",
    } == set()


def test_the_check_sees_an_import_from_above():
    """The same check on the harness finds what it imports (so an empty intersection above means something)."""
    assert {"tasks", "torch"} <= loaded_after(every_module("harness"))


def test_the_studies_sit_on_top():
    """The studies (claims, replications: drivers, rules, statistics, pages) use the reports' loader; importing
    every module of ``studies`` loads them."""
    loaded = loaded_after(every_module("studies"))
    assert {"studies", "reports", "core"} <= loaded


def test_the_layout_doc_names_every_harness_module_and_no_commit():
    """docs/layout.md describes the layout as it is: every module of the harness is named, no commit hash."""
    import re

    text = (ROOT / "docs" / "layout.md").read_text()
    modules = sorted(p.name for p in (ROOT / "harness").glob("*.py") if p.name != "__init__.py")
    assert [m for m in modules if not re.search(rf"\b{re.escape(m)}\b", text)] == []
    assert not re.search(r"`[0-9a-f]{7,40}`", text)
