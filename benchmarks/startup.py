"""What each patch of ``harness/quarantine.py`` saves on a 1-step job, on this machine.

The 1-step job (``python run.py trainer.max_steps=1 trainer.threads=1 run_dir=<a new folder>``) runs with every
patch on, and with each patch turned off in turn (``ARCHBENCH_QUARANTINE_OFF=<patch>``), and with all off; the
configurations alternate, ``--repeats`` rounds. Printed per configuration: the median wall and CPU seconds of the
whole process (``os.wait4``'s accounting) and the median ratio to "all on" within each round (> 1: the patch saves
time). A patch whose removal costs nothing measurable is not worth its risk. Run:
``python benchmarks/startup.py [--repeats 7]``; on a busy machine read the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATCHES = ("exit", "hydra_mode", "dynamo", "triton", "deterministic")


def one_job(off: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one 1-step job in a new folder with the patches ``off`` turned off."""
    env = {**os.environ, "ARCHBENCH_QUARANTINE_OFF": off, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "run.py", "trainer.max_steps=1", "trainer.threads=1", f"run_dir={tmp}/run"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the 1-step job failed with ARCHBENCH_QUARANTINE_OFF={off!r}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    configs = {"all on": "", **{f"{p} off": p for p in PATCHES}, "all off": ",".join(PATCHES)}
    one_job("")  # warm-up: file caches
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}
    for _ in range(args.repeats):
        for name, off in configs.items():
            times[name].append(one_job(off))
    base = times["all on"]
    print(f"{'configuration':<18} {'wall s':>7} {'cpu s':>7} {'wall/all on':>12} {'cpu/all on':>11}")
    for name, rows in times.items():
        wall, cpu = statistics.median(w for w, _ in rows), statistics.median(c for _, c in rows)
        r_wall = statistics.median(w / b[0] for (w, _), b in zip(rows, base))
        r_cpu = statistics.median(c / b[1] for (_, c), b in zip(rows, base))
        print(f"{name:<18} {wall:7.2f} {cpu:7.2f} {r_wall:12.2f} {r_cpu:11.2f}")
    print(f"({args.repeats} rounds, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end)")


if __name__ == "__main__":
    main()
