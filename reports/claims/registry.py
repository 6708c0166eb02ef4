"""The one registry of the course text's claims: id, text, the sweeps that feed it, its verdict rule and figure.
The minimal effect δ of each claim is declared in the preset (``conf/claims/<preset>.yaml``, key ``deltas``),
before running, and read here with the preset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from reports.claims import figures, rules

PRESETS = Path(__file__).resolve().parents[2] / "conf" / "claims"


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    sources: tuple[str, ...]  # sweep folders under the claims root whose runs are its evidence
    rule: Callable  # rule(runs) -> rules.Verdict
    figure: Callable  # figure(runs, verdict) -> matplotlib Figure | None

    def command(self, preset: str) -> str:
        """The one command that re-runs only this claim's evidence (the sweeps whose ``claims`` list it)."""
        return f"python -m harness.sweeps --preset {preset} --only {self.id}"


CLAIMS = {
    c.id: c
    for c in (
        Claim(
            "C1",
            "parallel training makes the Transformer faster",
            ("seq_scaling", "long_range", "timing"),
            rules.c1_speed,
            figures.c1,
        ),
        Claim("C2", "long-range dependencies are handled better", ("long_range",), rules.c2_long_range, figures.c2),
        Claim("C3", "no vanishing or exploding gradient through time", ("long_range",), rules.c3_gradients, figures.c3),
        Claim("C4", "positional encoding is needed for order", ("positions",), rules.c4_positions, figures.c4),
        Claim("C5", "multiple heads capture different relations", ("heads",), rules.c5_heads, figures.c5),
        Claim(
            "C6",
            "CNNs are local, attention is global",
            ("locality", "locality_attention", "locality_sanity", "long_range", "images"),
            rules.c6_locality,
            figures.c6,
        ),
        Claim(
            "C7", "hidden states grow more abstract layer by layer", ("abstraction",), rules.c7_abstraction, figures.c7
        ),
        Claim(
            "C8",
            "pre-training (MLM) improves accuracy and data efficiency",
            ("pretrain_finetune",),
            rules.c8_pretraining,
            figures.c8,
        ),
        Claim("C9", "attention weights are interpretable", ("positions",), rules.c9_interpretable, figures.c9),
        Claim(
            "C10",
            "residual connections and LayerNorm make deep training stable",
            ("depth",),
            rules.c10_residual_norm,
            figures.c10,
        ),
    )
}


def deltas(preset: str | None) -> dict:
    """{claim id: δ} as the preset declares them; {} for a preset that is not in conf/claims/ (a renamed folder)."""
    path = PRESETS / f"{preset}.yaml"
    if not preset or not path.is_file():
        return {}
    doc = OmegaConf.to_container(OmegaConf.load(path), resolve=True) or {}
    return {str(k): float(v) for k, v in (doc.get("deltas") or {}).items() if isinstance(v, (int, float))}
