"""Checks of tabular text data before training: empty or missing values, class labels, unreadable files.

Each problem becomes one :class:`ConfigError` line that says what was found (with row numbers) and the fix,
e.g. ``task.drop_empty=true`` or ``task.label_map``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from core.errors import ConfigError

SHOWN_ROWS = 5


def rows_text(rows: list[int]) -> str:
    shown = ", ".join(map(str, rows[:SHOWN_ROWS]))
    return f"row{'s' if len(rows) > 1 else ''} {shown}{', …' if len(rows) > SHOWN_ROWS else ''}"


def is_missing(v) -> bool:
    """None, NaN, or text that is empty once stripped."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def drop_empty_rows(splits: dict[str, dict[str, list]], columns: list[str], drop: bool, path: str) -> dict[str, int]:
    """Refuse (``drop=False``) or remove (``drop=True``) rows with an empty or missing value in ``columns``;
    returns the rows dropped per split. Row numbers in messages count from 0 in each split as loaded."""
    dropped = {}
    for split, cols in splits.items():
        n = len(cols[columns[0]])
        bad = [i for i in range(n) if any(is_missing(cols[c][i]) for c in columns)]
        if bad and not drop:
            which = sorted({c for c in columns for i in bad if is_missing(cols[c][i])})
            raise ConfigError(
                f"{len(bad)} of {n} rows of the {split} split of {path} have an empty or missing "
                f"{' / '.join(map(repr, which))} ({rows_text(bad)}); remove them from the data, or "
                "pass task.drop_empty=true to drop them"
            )
        if bad:
            keep = sorted(set(range(n)) - set(bad))
            if not keep:
                raise ConfigError(
                    f"every row of the {split} split of {path} is empty in {columns}; nothing is left "
                    "after task.drop_empty=true"
                )
            for c in columns:
                cols[c] = [cols[c][i] for i in keep]
        dropped[split] = len(bad)
    return dropped


def mapped(values: list, label_map: dict, column: str, split: str, path: str) -> list:
    """``values`` through ``label_map`` (keys matched as given, or as text: YAML keys are often strings)."""
    table = {str(k): v for k, v in label_map.items()}
    out, unknown = [], {}
    for i, v in enumerate(values):
        key = v if v in label_map else str(v)
        if key not in label_map and key not in table:
            unknown.setdefault(repr(v), i)
            continue
        out.append(label_map[key] if key in label_map else table[key])
    if unknown:
        shown = ", ".join(f"{v} (row {i})" for v, i in list(unknown.items())[:SHOWN_ROWS])
        raise ConfigError(
            f"task.label_map does not map {len(unknown)} value(s) of {column!r} in the {split} split "
            f"of {path}: {shown}; add them to task.label_map"
        )
    return out


def class_ids(
    splits: dict[str, dict[str, list]],
    column: str,
    path: str,
    num_classes: int | None = None,
    label_map: dict | None = None,
) -> int:
    """Check (after ``label_map``) that ``column`` holds integer class ids 0..K-1 in every split and return K.

    K is ``num_classes`` when given, else the number of classes in the train split, which must then hold every
    id 0..K-1. Validation/test labels must be classes of train (or < ``num_classes``). Booleans count as 0/1.
    """
    hint = "task.label_map (raw label → class id, e.g. 'task.label_map={1:0,2:1}')"
    for split, cols in splits.items():
        values = cols[column]
        if label_map:
            values = mapped(values, dict(label_map), column, split, path)
        bad = [i for i, v in enumerate(values) if not isinstance(v, int)]
        if bad:
            kinds = sorted({type(values[i]).__name__ for i in bad})
            examples = sorted({repr(values[i]) for i in bad})[:SHOWN_ROWS]
            if any(isinstance(values[i], float) for i in bad):
                fix = (
                    f"cast the column to integers (e.g. pandas df[{column!r}] = df[{column!r}].astype(int)), "
                    "drop rows without a label (task.drop_empty=true drops NaN ones), or map the values with "
                    "task.label_map"
                )
            else:
                found = sorted({str(values[i]) for i in bad})[:10]
                pairs = ",".join(f"{v}:{i}" for i, v in enumerate(found))
                fix = f"map them to class ids 0..K-1, e.g. 'task.label_map={{{pairs}}}'"
            raise ConfigError(
                f"{column!r} in the {split} split of {path} holds {kinds} values, not integer class "
                f"ids ({len(bad)} rows: {rows_text(bad)}; e.g. {', '.join(examples)}); {fix}"
            )
        cols[column] = [int(v) for v in values]
    found = {split: sorted(set(cols[column])) for split, cols in splits.items()}
    train = found["train"]
    if len(train) < 2:
        raise ConfigError(
            f"the train split of {path} holds only class {train} in {column!r}; classification needs "
            "at least two classes in training"
        )
    if num_classes is not None:
        k = int(num_classes)
        for split, labels in found.items():
            if labels[0] < 0 or labels[-1] >= k:
                raise ConfigError(
                    f"the {split} split of {path} has labels {shown(labels)} in {column!r} but "
                    f"task.num_classes={k} allows 0..{k - 1}; fix task.num_classes or remap with "
                    f"{hint}"
                )
        return k
    k = len(train)
    if train != list(range(k)):
        raise ConfigError(
            f"the labels of the train split of {path} in {column!r} are {shown(train)}, not the class "
            f"ids 0..{k - 1}; remap them: {hint} (or set task.num_classes if some class has no "
            "training example)"
        )
    for split, labels in found.items():
        extra = [v for v in labels if v not in train]
        if extra:
            negative = (
                " (a negative label usually marks an unlabelled test split, as in GLUE's SST-2: use "
                "task.data.test_split=validation)"
                if min(extra) < 0
                else ""
            )
            raise ConfigError(
                f"the {split} split of {path} has label(s) {shown(extra)} in {column!r} that the train "
                f"split (classes 0..{k - 1}) never shows{negative}; fix the data or set "
                "task.num_classes"
            )
    return k


def shown(labels: list) -> str:
    return "{" + ", ".join(map(str, labels[:10])) + (", …}" if len(labels) > 10 else "}")


def explain_read_error(paths: list[Path], e: BaseException) -> str:
    """Why ``datasets`` could not read ``paths``: the first line that is not UTF-8 or not JSON, when it is
    one of those, with the fix; else the innermost cause of ``e``."""
    for path in paths:
        if path.suffix.lower() not in (".csv", ".json", ".jsonl"):
            continue
        with open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as u:
                    return (
                        f"{path.name} line {number} is not UTF-8 text (byte {raw[u.start]:#04x}); re-save the file"
                        f" as UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name} > fixed{path.suffix}"
                    )
                if path.suffix.lower() == ".jsonl" and line.strip():
                    try:
                        json.loads(line)
                    except ValueError as j:
                        return f"{path.name} line {number} is not valid JSON ({j}); fix or remove that line"
    cause = e
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__
    return f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"
