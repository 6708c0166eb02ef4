"""The README's quick commands run as written (in a temporary folder, one thread each), and `run.py --help` is
archbench's own help first."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quick_commands() -> list[str]:
    """The README's `python …` lines in bash blocks that are quick: short trainings (trainer.max_steps), the help,
    the report and reading the record; not the full default job, the prepared sweeps or the /path/to examples."""
    text = (REPO / "README.md").read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            cmd = line.split(" #")[0].strip()
            if (
                cmd.startswith("python ")
                and "/path/to" not in cmd
                and ("trainer.max_steps" in cmd or "--help" in cmd or " -m reports" in cmd or "json.tool" in cmd)
            ):
                out.append(cmd)
    return out


def start(cmd: str, cwd: Path, **popen) -> subprocess.Popen:
    """``cmd`` started in ``cwd``: run.py from this checkout, trainings on one thread."""
    args = shlex.split(cmd)
    args[0] = sys.executable
    if len(args) > 1 and args[1] == "run.py":
        args[1] = str(REPO / "run.py")
        if "--help" not in args:
            args.append("trainer.threads=1")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "offline",
    }
    return subprocess.Popen(args, cwd=cwd, env=env, text=True, **popen)


def run(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = start(cmd, cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_readme_is_a_quickstart_without_history_words():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    assert not re.search(r"\bround \d|\bissue \d", text, flags=re.I)
    for link in re.findall(r"\]\((docs/[\w.]+\.md)\)", text):
        assert link.removeprefix("docs/") in {
            "settings.md",
            "record.md",
            "tasks.md",
            "architectures.md",
            "reports.md",
            "results.md",
            "install.md",
            "claims.md",
            "replications.md",
            "reliability.md",
            "slurm.md",
            "performance.md",
            "layout.md",
            "scorecard.md",
        }


def test_readme_quick_commands_run_as_written(tmp_path):
    cmds = quick_commands()
    assert any("-m reports" in c for c in cmds) and any(" -m arch=" in c for c in cmds)
    assert len(cmds) >= 6
    # The run.py commands start together (one thread each; none reads another's folder), so that they share the
    # CPUs; each command that reads what they wrote (the record, the report) runs after them, in the README's order.
    started = []
    for i, cmd in enumerate(c for c in cmds if c.startswith("python run.py")):
        log = tmp_path / f"command_{i}.log"
        with open(log, "w") as f:
            started.append((cmd, start(cmd, tmp_path, stdout=f, stderr=subprocess.STDOUT), log))
    for cmd, proc, log in started:
        assert proc.wait(timeout=600) == 0, f"{cmd}\n{log.read_text()[-3000:]}"
    for cmd in (c for c in cmds if not c.startswith("python run.py")):
        r = run(cmd, tmp_path)
        assert r.returncode == 0, f"{cmd}\n{r.stderr[-3000:]}"
    assert (tmp_path / "runs/first/summary.json").exists()
    assert (tmp_path / "runs/sweeps/first/report/index.html").exists()


def test_help_is_archbench_help_first():
    r = run("python run.py --help", REPO)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("archbench:")
    assert any(ln.startswith("arch: ") and "transformer" in ln for ln in lines)  # the groups and their choices
    assert "Examples:" in r.stdout and r.stdout.index("Examples:") < r.stdout.index("Hydra's help")
