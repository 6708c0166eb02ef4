"""The few lines a run prints when it ends."""

from __future__ import annotations


def describe(summary: dict) -> str:
    m, s, lr = summary.get("metrics", {}), summary.get("speed", {}), summary.get("long_range", {})
    shown = ", ".join(f"{k} {v:.4f}" for k, v in m.items() if k.startswith("test/") and isinstance(v, (int, float)))
    lines = [
        f"{summary['arch']} on {summary['task']}: {summary['status']} after {summary['step']} steps "
        f"({summary['wall_s']:.1f} s, {summary['params']:,} params)"
    ]
    if shown:
        lines.append(f"  {shown}")
    if lr.get("steps_to_target") is not None:
        lines.append(f"  reached {lr['target']['metric']} ≥ {lr['target']['value']} at step {lr['steps_to_target']}")
    if s.get("train_samples_per_s"):
        step = f", {s['step_ms']:.1f} ms/step" if s.get("step_ms") is not None else ""  # None: resumed at the end
        lines.append(f"  {s['train_samples_per_s']:.0f} samples/s{step}")
    run_dir = summary.get("run_dir")
    if run_dir:
        lines.append(f"  record: {run_dir}/summary.json")
    return "\n".join(lines)
