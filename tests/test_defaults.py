"""One source of defaults: an architecture's settings come from its YAML alone (no Python defaults), and no
Python default of a task disagrees with its YAML."""

import inspect

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import get_class

from architectures.model import Model, backbone_class
from core import registry
from tests.conftest import ARCHS, CONF


def composed(group: str, name: str):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=[f"{group}={name}"])[group]


def settings(cls) -> dict[str, inspect.Parameter]:
    return {
        n: p
        for n, p in inspect.signature(cls.__init__).parameters.items()
        if n not in ("self", "spec", "max_len") and p.kind is p.KEYWORD_ONLY
    }


@pytest.mark.parametrize("arch", ARCHS)
def test_architecture_settings_come_from_the_yaml_alone(arch):
    node = composed("arch", arch)
    for cls in (Model, backbone_class(node.backbone)):
        params = settings(cls)
        assert params, cls
        assert [n for n, p in params.items() if p.default is not p.empty] == [], f"{cls.__name__} has Python defaults"
        missing = [n for n in params if n not in node]
        assert missing == [], f"{arch}.yaml lacks {missing}"


# A task's own YAML is conf/task/<module>.yaml; presets of the same class (imdb.yaml, sst2.yaml) may differ.
OWN_TASK_YAMLS = [t for t in registry.names("task") if composed("task", t)._target_.rsplit(".", 2)[-2] == t]


@pytest.mark.parametrize("task", OWN_TASK_YAMLS)
def test_task_python_defaults_agree_with_the_yaml(task):
    """Scalar settings (nested ones such as ``data`` are checked by the task's own validation)."""
    node = composed("task", task)
    for name, p in settings(get_class(node._target_)).items():
        if p.default is not p.empty and name in node and not isinstance(node[name], dict | type(node)):
            assert node[name] == p.default, (
                f"task {task}: {name} is {node[name]!r} in the YAML, {p.default!r} in Python"
            )
