"""The quarantine of private internals (harness/quarantine.py): every library version installed is one its patches
were checked against, every private name they use is still there and does what the patch expects, a patch steps
aside (public path) on a version it was not checked against or when turned off, and the patched paths do their job.

A failure here after a library upgrade is the point: read the patch named in the message against the new version,
then add the version to ``quarantine.CHECKED`` (or remove the patch)."""

import subprocess
import sys

import hydra
import pytest
import torch

from harness import quarantine
from tests.conftest import ROOT


@pytest.mark.parametrize(
    "library, version",
    [
        ("python", f"{sys.version_info[0]}.{sys.version_info[1]}"),
        ("torch", torch.__version__),
        ("hydra", hydra.__version__),
    ],
)
def test_the_installed_libraries_are_versions_the_patches_were_checked_against(library, version):
    assert quarantine.checked(library, version), (
        f"{library} {version} is not in harness.quarantine.CHECKED[{library!r}] = {quarantine.CHECKED[library]}: "
        f"the patches for {library} now step aside (slower start); check each against {version}, then add it"
    )


def test_the_private_names_the_patches_use_are_there():
    gone = [name for name, found in quarantine.private_names().items() if not callable(found)]
    assert gone == [], f"gone from the installed libraries (check the patches that use them): {', '.join(gone)}"
    step = vars(torch.optim.Adam)["step"]  # torch's wrapper, or the eager form once a run here patched it
    assert getattr(step, "__eager_step__", False) or step.__code__ is quarantine._use_grad_code(), (
        "torch.optim.Adam.step is no longer wrapped by _use_grad_for_differentiable"
    )


def run(code: str, off: str = "") -> str:
    env_code = f"import os; os.environ['ARCHBENCH_QUARANTINE_OFF'] = {off!r}\n" + code
    out = subprocess.run([sys.executable, "-c", env_code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


DETERMINISTIC = """
import sys, torch
from harness import quarantine
quarantine.deterministic_algorithms(compiled=False)
print(torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
      "torch._inductor" in sys.modules)
"""


@pytest.mark.parametrize("off, inductor", [("", "False"), ("deterministic", "True")])
def test_the_deterministic_flag_is_set_without_importing_the_compiler(off, inductor):
    """The flag alone, as the public call sets it; the public call (patch off) imports torch._inductor."""
    assert run(DETERMINISTIC, off) == f"True True {inductor}"


PATCHES = """
from harness import quarantine
import torch
print(quarantine.keep_dynamo_out(torch.optim.Optimizer) > 0, quarantine.skip_mode_composition())
"""


@pytest.mark.parametrize("off, expected", [("", "True True"), ("dynamo,hydra_mode", "False False")])
def test_the_patches_apply_and_can_be_turned_off(off, expected):
    assert run(PATCHES, off) == expected


def test_on_a_version_not_checked_each_patch_steps_aside(monkeypatch):
    monkeypatch.setattr(quarantine, "CHECKED", {"python": (), "torch": (), "hydra": ()})
    monkeypatch.setattr(quarantine, "PYTHON_OK", False)
    assert quarantine.keep_dynamo_out(torch.optim.Optimizer) == 0
    assert quarantine.skip_mode_composition() is False
    with pytest.raises(SystemExit) as e:
        quarantine.exit_without_teardown(3)
    assert e.value.code == 3
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        quarantine.deterministic_algorithms(compiled=False)  # the public call
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def test_versions_compare_by_major_and_minor():
    assert quarantine.minor("2.14.1+cu130") == "2.14" and quarantine.checked("torch", "2.14.0")
    assert not quarantine.checked("torch", "2.15.0") and not quarantine.checked("hydra", "1.4.0.dev1")


@pytest.mark.parametrize("package", ["hydra-optuna-sweeper", "submitit"])
def test_the_plugins_are_versions_the_patches_were_checked_against(package):
    import importlib.metadata

    version = importlib.metadata.version(package)
    assert quarantine.package_ok(package), (
        f"{package} {version} is not in harness.quarantine.CHECKED[{package!r}]: its patch now steps aside; check it, "
        "then add the version"
    )


def test_the_optuna_sweep_is_wrapped_once():
    from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl

    real = OptunaSweeperImpl.sweep
    calls = []

    def wrap(sweep):
        calls.append(sweep)
        wrapped = lambda self, arguments: sweep(self, arguments)
        wrapped.wrapped = True
        return wrapped

    try:
        assert quarantine.wrap_optuna_sweep(wrap) and quarantine.wrap_optuna_sweep(wrap)
        assert calls == [real] or getattr(real, "wrapped", False)  # once (a tune run here may have wrapped it)
    finally:
        OptunaSweeperImpl.sweep = real


def test_the_slurm_watcher_asks_the_fallback_where_sacct_fails(monkeypatch):
    import subprocess as sp

    def no_sacct(*args, **kwargs):
        raise FileNotFoundError("sacct")

    monkeypatch.setattr(sp, "check_output", no_sacct)
    asked = []
    watcher = quarantine.slurm_watcher(lambda ids: asked.append(ids) or "JobID|State|NodeList\n123|RUNNING|node1\n")
    watcher.register_job("123")
    watcher.update()
    assert asked == [["123"]] and watcher.get_state("123") == "RUNNING"


def test_jobs_not_results_swaps_map_array_for_the_block_only():
    import submitit

    real = submitit.AutoExecutor.map_array
    with quarantine.jobs_not_results(lambda job: ("pending", job)):
        assert submitit.AutoExecutor.map_array is not real
    assert submitit.AutoExecutor.map_array is real
