"""The harness tests' shared fixtures: the local SLURM cluster and the two sweeps cut by a time limit, which start
with the first harness test when a slurm test is selected (tests/harness/test_slurm.py reads them)."""

import subprocess

import pytest


@pytest.fixture(scope="session")
def cluster():
    from tests.harness.test_slurm import SCRIPT, slurm_missing

    reason = slurm_missing()
    if reason:
        pytest.skip(reason)
    running = "slurmctld: running" in subprocess.run([SCRIPT, "status"], capture_output=True, text=True).stdout
    subprocess.run([SCRIPT, "start"], check=True, timeout=600)
    yield
    if not running:  # leave a cluster someone else started (.ci/run) as it was
        subprocess.run([SCRIPT, "stop"], check=True, timeout=120)


@pytest.fixture(scope="session")
def time_limited(cluster, tmp_path_factory):
    from tests.harness.test_slurm import EVERY, STEPS, TIME_LIMITED, cancel, sweep, uninterrupted

    tmp = tmp_path_factory.mktemp("time_limited")
    procs = {
        "requeued": sweep(
            tmp / "requeued",
            f"trainer.max_steps={STEPS}",
            f"trainer.eval_every={EVERY}",
            *TIME_LIMITED,
            "hydra.launcher.max_num_timeout=8",
            slow=0.04,
        ),
        "out_of_requeues": sweep(
            tmp / "out_of_requeues",
            "trainer.max_steps=100000",
            "trainer.eval_every=100",
            *TIME_LIMITED,
            "hydra.launcher.max_num_timeout=0",
            slow=0.04,
        ),
    }
    try:
        yield tmp, procs, uninterrupted(tmp, STEPS, EVERY)  # the reference trained here while the sweeps wait
    finally:
        for name, proc in procs.items():  # a test that failed before its sweep ended
            cancel(tmp / name, proc)


@pytest.fixture(scope="session", autouse=True)
def time_limited_slots_early(request):
    """Starts the time-limited sweeps with the first harness test, where a slurm test is selected and a cluster
    can run here: their one-minute slots then pass during the harness tests before test_slurm.py (about 2 minutes
    of the suite's wall time, spent waiting, when they started in that file)."""
    from tests.harness.test_slurm import slurm_missing

    if not slurm_missing() and any(item.get_closest_marker("slurm") for item in request.session.items):
        request.getfixturevalue("time_limited")
