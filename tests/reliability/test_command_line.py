"""``run.py``'s command line and the run's OS errors (issue 33, cases 4, 11, 12): a user's config that a built-in
hides is refused (never silently replaced); a non-ASCII character outside quotes says to quote the value; a name
longer than the file system allows, or a file where the logger's folder goes, is one line — each before training,
exit 2. Generated: any override value and any path through the command-line check, and names through run + report.
"""

from __future__ import annotations

import errno
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import USER_OS_ERRORS, os_error_line
from harness.command_line import check
from tests.conftest import ROOT
from tests.reliability.helpers import TINY, cli, one_line_error

BASE = [o for o in TINY if not o.startswith("trainer.max_steps")] + ["trainer.max_steps=2", "trainer.probes=false"]


@pytest.mark.parametrize("how", ["--config-dir", "hydra.searchpath"])
def test_a_users_config_named_like_a_built_in_is_refused(tmp_path, how):
    """Case 4: myconf/arch/lstm.yaml would be ignored for the built-in conf/arch/lstm.yaml."""
    (tmp_path / "myconf" / "arch").mkdir(parents=True)
    (tmp_path / "myconf" / "arch" / "lstm.yaml").write_text("defaults:\n  - /model@_here_: default\n  - _self_\n")
    where = (
        ["--config-dir", str(tmp_path / "myconf")]
        if how == "--config-dir"
        else [f"hydra.searchpath=[file://{tmp_path / 'myconf'}]"]
    )
    r = cli(tmp_path / "r", *where, *BASE, "arch=lstm")
    one_line_error(r, f"{tmp_path / 'myconf' / 'arch' / 'lstm.yaml'} has the name of the built-in conf/arch/lstm.yaml")
    assert "my_lstm" in r.stderr and not (tmp_path / "r").exists()


def test_the_own_architecture_example_is_not_refused():
    example = ROOT / "examples" / "own_architecture" / "myconf"
    assert check(["run.py", "--config-dir", str(example), "arch=mixer"]) is None
    assert check(["run.py", f"hydra.searchpath=[file://{example}]", "arch=mixer"]) is None


def test_a_non_ascii_value_outside_quotes_says_to_quote_it(tmp_path):
    """Case 12: Hydra's lexer error, with the fix."""
    r = cli(None, *BASE, f"hydra.run.dir={tmp_path}/abc_é")
    one_line_error(r, "quote the value", f"'hydra.run.dir=\"{tmp_path}/abc_é\"'")
    r = cli(None, *BASE, f"hydra.run.dir='{tmp_path}/abc_é'")  # quoted, as the line says: it runs
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path / "abc_é" / "summary.json").read_text())["status"] == "completed"


def test_a_name_too_long_for_the_file_system_is_one_line(tmp_path):
    """Case 11: ENAMETOOLONG, raised inside Hydra before the run starts."""
    one_line_error(cli(tmp_path / ("a" * 300), *BASE), "300 bytes long", "255")


def test_a_file_where_the_loggers_folder_goes_is_one_line(tmp_path):
    """Case 11: logger=tensorboard where the run folder holds a file named tensorboard."""
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "tensorboard").write_text("mine")
    one_line_error(cli(tmp_path / "r", *BASE, "logger=tensorboard"), "tensorboard", "a file is where a folder")
    assert (tmp_path / "r" / "tensorboard").read_text() == "mine"


@pytest.mark.parametrize("code", sorted(USER_OS_ERRORS))
def test_every_user_os_error_is_one_line_naming_the_path(code):
    line = os_error_line(OSError(code, os.strerror(code), "/some/place"))
    assert line and "/some/place" in line and "\n" not in line


VALUES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(key=st.sampled_from(["hydra.run.dir", "task.data.path", "arch.name", "+tag", "seed"]), value=VALUES)
def test_any_override_value_is_read_by_hydra_or_refused_in_one_line(key, value):
    """Generated: whatever a value holds, either Hydra's parser reads it or the check says one line first —
    never Hydra's lexer error for a character the user can quote."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    override = f"{key}={value}"
    line = check(["run.py", override])
    if line is None:
        try:
            OverridesParser.create().parse_override(override)
        except HydraException:
            assert override.isascii(), override  # an ASCII slip (a stray bracket) is Hydra's own one-line message
    else:
        assert "\n" not in line and len(line) < 600


@settings(derandomize=True, max_examples=200, deadline=None)
@given(parts=st.lists(st.text(st.sampled_from("ab/é-_."), min_size=1, max_size=300), min_size=1, max_size=3))
def test_any_path_with_a_name_over_255_bytes_is_refused(parts):
    path = "/".join(parts)
    line = check(["run.py", f"hydra.run.dir='{path}'"])
    too_long = any(len(p.encode()) > 255 for p in path.split("/"))
    assert (line is not None) == too_long or len(path.encode()) > 4096


def test_an_os_error_message_names_enametoolong():
    assert "255 bytes" in os_error_line(OSError(errno.ENAMETOOLONG, "File name too long", "x" * 300))


def test_an_arch_in_a_config_subfolder_runs_and_reports(tmp_path):
    """Case 10 end to end: ``arch=team/tf`` (a user's config subfolder) trains and its report writes every figure
    inside ``figures/`` (a ``/`` in the name went into the figure's path)."""
    from reports.__main__ import main as reports_main

    team = tmp_path / "myconf" / "arch" / "team"
    team.mkdir(parents=True)
    (team / "tf.yaml").write_text((ROOT / "conf" / "arch" / "transformer.yaml").read_text())
    runs = tmp_path / "runs"
    r = cli(runs / "a", "--config-dir", str(tmp_path / "myconf"), *BASE, "arch=team/tf", "trainer.probes=true")
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((runs / "a" / "summary.json").read_text())["arch"] == "team/tf"
    out = tmp_path / "report"
    assert reports_main([str(runs), "--out", str(out)]) == 0
    pngs = sorted(p.name for p in (out / "figures").iterdir())
    assert any(p.startswith("attention_copy_long_team_tf_") for p in pngs), pngs
    assert all(p.parent == out / "figures" for p in out.rglob("*.png"))
