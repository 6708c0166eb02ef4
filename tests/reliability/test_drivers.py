"""The studies drivers (``make claims`` / ``make replicate``; issue 33, cases 1, 2, 3, 13 and the ``--only`` slips):

* a SIGINT/SIGTERM to the driver is passed on once to the running child (and its workers) and waited for, with
  the grace SLURM gives a job, then the child is killed; the driver says so in one line and exits 130;
* a cut learning-rate pre-sweep is never kept as done: the next launch runs it again;
* the exit status is non-zero when a run failed, and the failed runs are named;
* a wrong argument (``--out`` a file, an unknown launcher, ``--only ,``, a preset that is a path) is one line,
  exit 2, before anything runs."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studies import replicate, sweeps
from tests.conftest import ROOT

CHILD = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    marker, mode = Path(sys.argv[1]), sys.argv[2]
    seen = []
    def handle(signum, frame):
        seen.append(signal.Signals(signum).name)
        if mode == "stubborn":
            return
        time.sleep(1.5)  # a checkpoint write longer than subprocess.call's 0.25 s
        marker.write_text(",".join(seen))
        sys.exit(130)
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    print("ready", flush=True)
    time.sleep(60)
    """
)
DRIVER = textwrap.dedent(
    """
    import sys
    from studies import children
    try:
        children.run([sys.executable, sys.argv[1], sys.argv[2], sys.argv[3]])
    except children.Interrupted as e:
        print("error: " + e.line(), file=sys.stderr)
        sys.exit(130)
    """
)


def start_driver(tmp_path: Path, mode: str, **env) -> tuple[subprocess.Popen, Path]:
    (tmp_path / "child.py").write_text(CHILD)
    marker = tmp_path / "recorded"
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path / "child.py"), str(marker), mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc, marker


@pytest.mark.parametrize("how", ["SIGINT to the group (Ctrl-C)", "SIGINT to the driver", "SIGTERM to the driver"])
def test_a_signal_is_passed_on_once_and_the_child_is_waited_for(tmp_path, how):
    """Case 1: the child takes 1.5 s to record its stop (subprocess.call killed it after 0.25 s)."""
    proc, marker = start_driver(tmp_path, "records")
    sig = signal.SIGTERM if "SIGTERM" in how else signal.SIGINT
    if "group" in how:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert marker.read_text() == sig.name  # recorded, and the signal reached the child once
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: interrupted ({sig.name})"), err
    assert "Traceback" not in err


def test_a_child_that_does_not_stop_is_killed_after_the_grace_period(tmp_path):
    proc, marker = start_driver(tmp_path, "stubborn", ARCHBENCH_STOP_GRACE_S="1")
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "killed after the grace period" in err and "Traceback" not in err
    assert 1 <= time.monotonic() - began < 15 and not marker.exists()


def test_ctrl_c_on_a_real_sweep_leaves_the_interrupted_record(tmp_path):
    """Case 1 end to end: a ``run.py -m`` sweep cut by Ctrl-C at the driver's terminal while its summary write takes
    1.5 s (subprocess.call killed the child 0.25 s after Ctrl-C: no record): the run records ``interrupted``, the
    driver exits 130 in one line."""
    from tests.reliability.helpers import TINY

    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "run.py", "-m", *TINY, "trainer.max_steps=100000", f"hydra.sweep.dir={sweep}"]
    cmd.append("hydra/launcher=basic")
    script = "import sys\nfrom studies import children\ntry:\n    children.run(sys.argv[1:])\n"
    script += "except children.Interrupted as e:\n    print('error: ' + e.line(), file=sys.stderr)\n    sys.exit(130)\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *cmd],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "ARCHBENCH_SLOW": "write:summary.json:1.5",
            "PYTHONUNBUFFERED": "1",
        },
    )
    deadline = time.monotonic() + 120
    while not list(sweep.rglob("metrics.jsonl")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at a terminal does: the whole foreground group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err[-3000:]
    assert "error: interrupted (SIGINT)" in err
    (record,) = [json.loads(p.read_text()) for p in sweep.rglob("summary.json")]
    assert record["status"] == "interrupted"


PRESET = {
    "seeds": "1",
    "tune_seed": 0,
    "lr_grid": [0.001, 0.01],
    "lr_steps": 2,
    "sweeps": {"copy": {"experiment": "long_range", "overrides": {"arch": "rnn,lstm", "task.delay": "3,4"}}},
}


def summary(folder: Path, arch: str, delay: int, lr: float, status: str = "completed", loss: float = 0.5) -> None:
    folder.mkdir(parents=True)
    config = {"seed": 0, "task": {"delay": delay}, "optimizer": {"lr": lr}}
    record = {
        "status": status,
        "arch": arch,
        "task": "copy_long",
        "seed": 0,
        "params": 10,
        "metrics": {"val/loss": loss},
        "speed": {},
        "config": config,
    }
    (folder / "summary.json").write_text(json.dumps(record))


def fake_presweep(runs: list[tuple], code: int = 0):
    """A launch that leaves these pre-sweep runs ``(arch, delay, lr, status)`` and returns ``code``."""
    calls = []

    def launch(exp, folder, over, launcher):
        calls.append(folder)
        if folder is not None and folder.name == sweeps.LR_PRESWEEP:
            for i, (arch, delay, lr, status) in enumerate(runs):
                if not (folder / str(i)).exists():
                    summary(folder / str(i), arch, delay, lr, status)
        return code

    return launch, calls


GRID = [(a, d, lr) for a in ("rnn", "lstm") for d in (3, 4) for lr in (0.001, 0.01)]


@pytest.mark.parametrize(
    "cut",
    ["child killed: half the grid, exit 0", "a run failed", "child crashed: exit 1", "one cell has no run"],
)
def test_a_cut_presweep_is_never_kept_as_done(tmp_path, monkeypatch, cut):
    """Case 2: the choice of a cut pre-sweep is marked incomplete, the launch says so (and fails), and the next
    launch runs the pre-sweep again instead of reusing the half choice."""
    runs, code = [(*g, "completed") for g in GRID], 0
    if cut.startswith("child killed"):
        runs = runs[::2]
    elif cut == "a run failed":
        runs[3] = (*GRID[3], "failed")
    elif cut.startswith("child crashed"):
        code = 1
    else:
        runs = [r for r in runs if (r[0], r[1]) != ("lstm", 4)]
    launch, calls = fake_presweep(runs, code)
    monkeypatch.setattr(sweeps, "launch", launch)
    problems = sweeps.run_sweep("copy", PRESET["sweeps"]["copy"], PRESET, tmp_path, None)
    assert any("pre-sweep is incomplete" in p for p in problems), problems
    saved = json.loads((tmp_path / "copy" / "lr_choice.json").read_text())
    assert saved["complete"] is False
    calls.clear()
    sweeps.run_sweep("copy", PRESET["sweeps"]["copy"], PRESET, tmp_path, None)
    assert calls[0] == tmp_path / "copy" / sweeps.LR_PRESWEEP  # run again, not reused


def test_a_whole_presweep_is_kept_and_reused(tmp_path, monkeypatch):
    launch, calls = fake_presweep([(*g, "completed") for g in GRID])
    monkeypatch.setattr(sweeps, "launch", launch)
    assert sweeps.run_sweep("copy", PRESET["sweeps"]["copy"], PRESET, tmp_path, None) == []
    assert json.loads((tmp_path / "copy" / "lr_choice.json").read_text())["complete"] is True
    calls.clear()
    sweeps.run_sweep("copy", PRESET["sweeps"]["copy"], PRESET, tmp_path, None)
    assert sweeps.LR_PRESWEEP not in {c.name for c in calls if c is not None}  # reused: no pre-sweep launch


@pytest.mark.parametrize("status", ["failed", "interrupted", "no record"])
def test_the_driver_fails_and_names_a_run_that_did_not_complete(tmp_path, capsys, status):
    """Case 3: a sweep whose child exited 0 but left a failed run: exit 1, the run named."""
    out = tmp_path / "out"
    summary(out / "copy" / "ok", "rnn", 3, 0.01)
    if status == "no record":
        (out / "copy" / "cut").mkdir(parents=True)
        (out / "copy" / "cut" / "metrics.jsonl").write_text("")
    else:
        summary(out / "copy" / "cut", "rnn", 4, 0.01, status=status)
    code = sweeps.drive(["copy"], lambda name: [], out, [str(out), "--out", str(tmp_path / "rep")], "reports")
    err = capsys.readouterr().err
    assert code == 1 and "1 run(s) did not complete" in err and str(out / "copy" / "cut") in err
    assert (
        sweeps.drive(["copy"], lambda name: [], tmp_path / "none", [str(out), "--out", str(tmp_path / "r2")], "reports")
        == 0
    )


def test_a_failed_launch_makes_the_driver_fail(tmp_path, monkeypatch):
    monkeypatch.setattr(sweeps, "launch", lambda *a: 1)
    preset = {**PRESET, "lr_grid": []}
    problems = sweeps.run_sweep("copy", preset["sweeps"]["copy"], preset, tmp_path, None)
    assert problems == ["copy: sweep exited with an error"]
    out = tmp_path / "o"
    out.mkdir()
    summary(out / "ok", "rnn", 3, 0.01)
    assert sweeps.drive(["copy"], lambda name: problems, out, [str(out), "--out", str(tmp_path / "r")], "reports") == 1


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--out", "FILE"], "is a file"),
        (["--out", "FILE/sub"], "a file"),
        (["--launcher", "nosuch"], "--launcher 'nosuch' is not a launcher"),
        (["--only", ","], "names nothing"),
        (["--only", ""], "names nothing"),
        (["--only", " , "], "names nothing"),
        (["--preset", "../experiment/tune"], "not a preset name"),
        (["--preset", "/etc/passwd"], "not a preset name"),
        (["--preset", "nosuch"], "no claims preset 'nosuch'"),
    ],
)
def test_a_wrong_argument_is_one_line_before_anything_runs(tmp_path, capsys, monkeypatch, args, fragment):
    """Case 13 and 'also seen': one line, exit 2, no launch, nothing written."""
    monkeypatch.setattr(sweeps, "launch", lambda *a: pytest.fail("launched"))
    (tmp_path / "FILE").write_text("")
    args = [a.replace("FILE", str(tmp_path / "FILE")) for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "out")]
    assert sweeps.main(["--preset", "smoke", *out, *args] if "--preset" not in args else [*out, *args]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and fragment in err[0], err
    assert not (tmp_path / "out").exists()
    if "--preset" not in args:  # the replications' driver takes the same checks
        assert replicate.main(["--preset", "smoke", *out, *args]) == 2


def test_only_names_each_once_in_order():
    assert sweeps.names_of("a,a, b ,a") == ["a", "b"]
    assert sweeps.names_of(None) is None


@settings(derandomize=True, max_examples=60, deadline=None)
@given(only=st.text(alphabet=st.sampled_from(list(",  abcC15/.é\n")), max_size=12), preset=st.text(max_size=20))
def test_any_only_and_preset_is_a_selection_or_one_line(only, preset):
    """Generated: ``--only`` and ``--preset`` of any text select sweeps or stop with exit 2 — never a traceback,
    never everything for an ``--only`` that names nothing."""
    loaded = sweeps.load_preset("smoke")
    try:
        names = sweeps.selected(loaded, only)
        assert names and set(names) <= set(loaded["sweeps"]) and len(names) == len(set(names))
    except SystemExit as e:
        assert e.code == 2
    assert sweeps.main([f"--preset={preset}", "--only", "C999"]) == 2  # the preset's error or the --only one


@pytest.mark.parametrize("report", ["studies.claims", "studies.replications"])
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS, errno.ENAMETOOLONG])
def test_an_os_error_in_a_study_report_is_one_line(tmp_path, capsys, monkeypatch, report, code):
    """OS errors at the report boundary: a full disk or a read-only --out while writing the claims or the
    replications page is one line naming the path, exit 2 (it was a traceback)."""
    import importlib

    module = importlib.import_module(f"{report}.__main__")
    name = "build_claims" if report == "studies.claims" else "build_replications"

    def full(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path / "rep" / "page.html"))

    monkeypatch.setattr(module, name, full)
    monkeypatch.setattr(module, "no_records_error", lambda root: None, raising=False)
    (tmp_path / "runs").mkdir()
    assert module.main([str(tmp_path / "runs"), "--out", str(tmp_path / "rep")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: cannot write") and "page.html" in err[0], err


def test_a_file_as_the_replications_out_is_one_line(tmp_path, capsys):
    from studies.replications.__main__ import main as replications_main

    (tmp_path / "runs" / "x").mkdir(parents=True)
    (tmp_path / "file").write_text("")
    assert replications_main([str(tmp_path / "runs"), "--out", str(tmp_path / "file")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and "file" in err[0], err
