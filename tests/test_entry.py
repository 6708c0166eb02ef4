"""The entry point's start and end: run.py composes the configuration once a launch (Hydra's own path composes it a
second time only to read ``hydra.mode``) and falls back to Hydra's path wherever a setting could set ``hydra.mode``;
a single run ends without the interpreter's teardown, yet as Python's own exit would end it."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.reliability.helpers import cli

ROOT = Path(__file__).resolve().parents[1]


def python(*args: str) -> subprocess.CompletedProcess:
    """``python *args`` in the checkout, as a user runs it (run.py's folder importable), output captured."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def entry():
    spec = importlib.util.spec_from_file_location("archbench_entry", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_config_in_conf_sets_the_hydra_mode():
    """What makes skipping Hydra's mode composition exact: no file in conf/ sets hydra.mode (nor adds a search path,
    whose configs could)."""
    setting = []
    for path in sorted((ROOT / "conf").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            continue
        if path.parent.name == "hydra" and {"mode", "searchpath"} & set(data):
            setting.append(str(path))
        if isinstance(data.get("hydra"), dict) and {"mode", "searchpath"} & set(data["hydra"]):
            setting.append(str(path))
    assert setting == []


@pytest.mark.parametrize(
    "args, skipped",
    [
        (["seed=1", "hydra.run.dir=/tmp/x"], True),
        (["-m", "seed=1,2", "hydra/launcher=local"], True),
        (["hydra.mode=MULTIRUN"], False),
        (["+hydra.searchpath=[file:///tmp]"], False),
        (["--config-dir", "myconf", "arch=mine"], False),
        (["-cd", "myconf"], False),
        (["--config-name=other"], False),
    ],
)
def test_the_mode_composition_is_skipped_only_where_nothing_else_can_set_the_mode(args, skipped, monkeypatch):
    from harness.quarantine import hydra_class

    Hydra = hydra_class()

    monkeypatch.setattr(Hydra, "get_mode", Hydra.get_mode)  # restored after the test
    original = Hydra.get_mode
    assert entry().compose_once(["run.py", *args]) is skipped
    assert (Hydra.get_mode is original) is not skipped


COUNTED = """
import atexit, runpy, sys
from harness.quarantine import hydra_class
Hydra = hydra_class()
calls = []
compose = Hydra.compose_config
def counted(self, *args, **kwargs):
    calls.append(kwargs.get("run_mode"))
    return compose(self, *args, **kwargs)
Hydra.compose_config = counted
atexit.register(lambda: print("compositions", len(calls), file=sys.stderr))  # run.py's exit runs these
sys.argv = ["run.py", *sys.argv[1:]]
runpy.run_path("run.py", run_name="__main__")
"""


def test_a_run_composes_its_configuration_once(tmp_path):
    run_dir = tmp_path / "run"
    args = ["trainer.max_steps=1", "trainer.probes=false", "task.delay=5", "task.n_val=8", "task.n_test=8"]
    out = python("-c", COUNTED, *args, "trainer.threads=1", f"run_dir={run_dir}")
    assert out.returncode == 0, out.stderr
    assert "compositions 1" in out.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["config"]["task"]["n_val"] == 8


ENDS = """
import atexit, sys, threading, time
from pathlib import Path
sys.argv = ["run.py"]
import runpy
entry = runpy.run_path("run.py")  # not as __main__: nothing runs
out = Path({folder!r})
atexit.register(lambda: (out / "atexit").write_text("ran"))
def late():
    time.sleep(0.3)
    (out / "thread").write_text("joined")
threading.Thread(target=late).start()  # not a daemon: Python's exit waits for it
sys.stdout.write("buffered, no newline")  # stdout is a pipe: block-buffered
entry["exit_now"](3)
(out / "after").write_text("exit_now returned")
"""


def test_a_single_run_ends_as_python_would_end_it(tmp_path):
    """exit_now waits for non-daemon threads, runs the atexit handlers and flushes stdout, then ends with the code."""
    out = python("-c", ENDS.format(folder=str(tmp_path)))
    assert out.returncode == 3, out.stderr
    assert out.stdout == "buffered, no newline"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "joined"
    assert not (tmp_path / "after").exists()


def test_a_single_run_prints_its_lines_and_its_record_survives_the_quick_exit(tmp_path):
    """A real run with block-buffered stdout (PYTHONUNBUFFERED unset): its last line, record and log files are whole."""
    run_dir = tmp_path / "run"
    overrides = ["trainer.max_steps=1", "trainer.probes=false", "task.delay=5", "task.n_val=8", "task.n_test=8"]
    out = cli(run_dir, *overrides, "trainer.threads=1", "logger=[csv,tensorboard]", env={"PYTHONUNBUFFERED": ""})
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip().endswith(f"record: {run_dir / 'summary.json'}")
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
    rows = (run_dir / "metrics.csv").read_text().splitlines()
    assert rows[0] == "step,split,metric,value" and any(",test,acc," in row for row in rows[1:])
    assert any(p.name.startswith("events.out.tfevents") and p.stat().st_size > 0 for p in run_dir.rglob("*"))


def test_a_run_under_a_profiler_ends_the_usual_way_so_the_profile_is_written(tmp_path):
    """cProfile writes its output after the script: the quick exit must leave it its turn."""
    prof = tmp_path / "run.prof"
    args = ["trainer.max_steps=1", "trainer.probes=false", "task.delay=5", "task.n_val=8", "task.n_test=8"]
    out = python("-m", "cProfile", "-o", str(prof), "run.py", *args, "trainer.threads=1", f"run_dir={tmp_path / 'r'}")
    assert out.returncode == 0, out.stderr
    assert prof.stat().st_size > 0 and (tmp_path / "r" / "summary.json").exists()
