"""The run record's format (core.record): every new summary.json validates against core/summary.schema.json, a
broken one does not, and records written before record_version existed are read through upgrade()."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from core.record import RECORD_VERSION, SCHEMA, SUMMARY, metric_direction, name_direction, record_direction, upgrade
from tests.conftest import schema_errors as errors


@pytest.fixture(scope="module")
def real_summary(tmp_path_factory) -> dict:
    """summary.json of a real tiny run (4 steps of lstm on copy_long), as written to disk."""
    from harness.train import train
    from tests.conftest import make_cfg

    cfg = make_cfg(tmp_path_factory.mktemp("record"), "arch=lstm", "task=copy_long")
    train(cfg)
    return json.loads((Path(cfg.run_dir) / SUMMARY).read_text())


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))


def test_a_real_runs_summary_validates(real_summary):
    assert real_summary["record_version"] == RECORD_VERSION == 2
    assert errors(real_summary) == []
    assert upgrade(real_summary) is real_summary  # the current version is read as it is


@pytest.mark.parametrize(
    "breakage",
    [
        "no status",
        "unknown status",
        "no version",
        "old version",
        "seed as text",
        "bad direction",
        "metric without split",
        "no main metric",
    ],
)
def test_a_broken_summary_does_not_validate(real_summary, breakage):
    s = copy.deepcopy(real_summary)
    if breakage == "no status":
        del s["status"]
    elif breakage == "unknown status":
        s["status"] = "finished"
    elif breakage == "no version":
        del s["record_version"]
    elif breakage == "old version":
        s["record_version"] = 1
    elif breakage == "seed as text":
        s["seed"] = "0"
    elif breakage == "bad direction":
        s["task_info"]["directions"]["acc"] = "up"
    elif breakage == "metric without split":
        s["metrics"]["acc"] = 1.0
    elif breakage == "no main metric":
        del s["task_info"]["main_metric"]
    assert errors(s)


def version_1(real_summary: dict) -> dict:
    """The same run as a record written before record_version: no version, no declared directions, no main
    metric, the delay only in the config."""
    old = copy.deepcopy(real_summary)
    del old["record_version"]
    for key in ("directions", "main_metric", "delay"):
        del old["task_info"][key]
    old["metrics"]["val/perplexity"] = 3.0
    return old


def test_upgrade_reads_a_version_1_summary_as_the_current_one(real_summary):
    old = version_1(real_summary)
    before = copy.deepcopy(old)
    new = upgrade(old)
    assert old == before  # a copy; the record read is left as it is
    assert new["record_version"] == RECORD_VERSION and errors(new) == []
    info = new["task_info"]
    assert info["main_metric"] == "acc" and info["delay"] == real_summary["config"]["task"]["delay"]
    assert info["directions"]["acc"] == "max" and info["directions"]["loss"] == "min"
    assert info["directions"]["perplexity"] == "min"
    bare = upgrade({"status": "completed", "metrics": {"test/acc": 1.0}})  # hand-made: no task_info at all
    assert bare["task_info"] == {"main_metric": "acc", "directions": {"acc": "max"}} and bare["long_range"] == {}


def test_directions():
    assert metric_direction({"perplexity_gap": "max"}, "val/perplexity_gap") == "max"
    assert metric_direction({"loss": "min"}, "test/loss") == metric_direction({"loss": "min"}, "loss") == "min"
    assert metric_direction({}, "val/acc") is None and metric_direction(None, "val/acc") is None
    assert name_direction("val/loss") == "min" and name_direction("test/perplexity") == "min"
    assert name_direction("test/bleu") == "max"
    declared = {"task_info": {"directions": {"perplexity_gap": "max"}}}
    assert record_direction(declared, "test/perplexity_gap") == "max"  # declared beats the name rule
    assert record_direction(declared, "test/loss") == "min"


def test_an_old_format_summary_still_reads_in_the_reports(real_summary, tmp_path):
    from reports.load import find_records, to_frame

    for name, summary in (("old", version_1(real_summary)), ("new", real_summary)):
        (tmp_path / name).mkdir()
        (tmp_path / name / SUMMARY).write_text(
            json.dumps({**summary, "metrics": {**summary["metrics"], "test/loss": 2.0}})
        )
    future = {**real_summary, "record_version": RECORD_VERSION + 1}
    (tmp_path / "future").mkdir()
    (tmp_path / "future" / SUMMARY).write_text(json.dumps(future))
    rec = find_records([tmp_path])
    assert sorted(Path(r["_dir"]).name for r in rec.runs) == ["new", "old"]
    assert [Path(p).parent.name for p, _ in rec.skipped] == ["future"] and "newer" in rec.skipped[0][1]
    df = to_frame(rec.runs)
    assert list(df["main_metric"]) == ["acc", "acc"] and list(df["main_direction"]) == ["max", "max"]
    assert list(df["task_info.delay"]) == [real_summary["task_info"]["delay"]] * 2
    assert all(r["task_info"]["directions"]["loss"] == "min" for r in rec.runs)


def test_under_a_parameter_budget_the_width_is_an_outcome_not_a_setting():
    """Older records hold the width budget.params chose in config.arch, newer ones the width launched: one setting."""
    from core.record import setting_id

    launched = {"arch": {"d_model": 64, "n_layers": 2}, "budget": {"params": 30000, "width_key": "d_model"}}
    fitted = {**launched, "arch": {"d_model": 40, "n_layers": 2}}
    assert setting_id(launched) == setting_id(fitted)
    assert setting_id(launched) != setting_id({**launched, "arch": {"d_model": 64, "n_layers": 3}})
    no_budget = {"arch": {"d_model": 64}, "budget": {"params": None, "width_key": "d_model"}}
    assert setting_id(no_budget) != setting_id({**no_budget, "arch": {"d_model": 40}})


# -- the typed record -----------------------------------------------------------------------------------------------
JSON_TYPES = {str: "string", int: "integer", float: "number", dict: "object", list: "array", type(None): "null"}


def json_types(annotation: str) -> set[str]:
    """``dict | None`` → {"object", "null"} (the dataclass's annotations are strings: postponed evaluation)."""
    names = {"str": str, "int": int, "float": float, "dict": dict, "list": list, "None": type(None)}
    return {JSON_TYPES[names[part.strip().split("[")[0]]] for part in annotation.split("|")}


def schema_types(prop: dict, defs: dict) -> set[str]:
    if "$ref" in prop:
        return schema_types(defs[prop["$ref"].rsplit("/", 1)[-1]], defs)
    if "oneOf" in prop:
        return set().union(*(schema_types(p, defs) for p in prop["oneOf"]))
    if "const" in prop or "enum" in prop:
        values = [prop["const"]] if "const" in prop else prop["enum"]
        return {JSON_TYPES[type(v)] for v in values}
    kind = prop["type"]
    return set(kind) if isinstance(kind, list) else {kind}


def test_the_schema_states_the_typed_records_fields_and_types():
    """core/summary.schema.json and core.record.RunRecord say the same: every field required, in order, and of
    the same JSON types."""
    import dataclasses

    from core.record import RunRecord

    schema = json.loads(SCHEMA.read_text())
    fields = [f for f in dataclasses.fields(RunRecord) if f.name != "extra"]
    assert schema["required"] == [f.name for f in fields]
    assert list(schema["properties"]) == [f.name for f in fields]
    for f in fields:
        declared = schema_types(schema["properties"][f.name], schema["$defs"])
        assert json_types(f.type) == declared, f.name


def test_the_typed_record_round_trips_a_real_summary_and_upgrades_an_old_one(real_summary, tmp_path):
    from core.record import RunRecord

    record = RunRecord.from_dict(real_summary)
    assert record.to_dict() == real_summary and list(record.to_dict()) == list(real_summary)
    record.write(tmp_path / SUMMARY)
    assert json.loads((tmp_path / SUMMARY).read_text()) == real_summary
    assert RunRecord.read(tmp_path / SUMMARY) == record and RunRecord.read(tmp_path / "none.json") is None
    old = RunRecord.from_dict(version_1(real_summary))
    assert old.record_version == RECORD_VERSION and old.task_info["main_metric"] == "acc"
    extended = RunRecord.from_dict({**real_summary, "mine": 1})
    assert extended.extra == {"mine": 1} and list(extended.to_dict())[-1] == "mine"
    with pytest.raises(ValueError, match="lacks status"):
        RunRecord.from_dict({k: v for k, v in real_summary.items() if k != "status"})
