"""The one registry of the course text's claims: id, text, the sweeps that feed it, its verdict rule and figure.
The minimal effect δ of each claim is declared in the preset (``conf/claims/<preset>.yaml``, key ``deltas``),
before running, and read here with the preset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from studies.claims import figures, rules

PRESETS = Path(__file__).resolve().parents[2] / "conf" / "claims"


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    sources: tuple[str, ...]  # sweep folders under the claims root whose runs are its evidence
    rule: Callable  # rule(runs) -> rules.Verdict
    figure: Callable  # figure(runs, verdict) -> matplotlib Figure | None
    anchor: str = ""  # the published result the verdict is compared with (author year: what they found)
    expects: str = ""  # the outcome of this rule that would agree with the anchor (rules' outcome words)
    expects_part: str = ""  # for a *mixed* expectation: words of the verdict's condition that say which part holds

    def agreement(self, outcome: str, condition: str | None = None) -> str:
        """Whether a verdict agrees with the literature anchor: ``agrees``, ``differs`` or ``open`` (an
        inconclusive verdict says nothing either way); a *mixed* verdict agrees only when its condition names the
        part the anchor found (``expects_part``). Why a verdict differs (budget or finding) is the reader's call
        and docs/claims.md's, not this function's."""
        if not self.expects or outcome == rules.INCONCLUSIVE:
            return "open"
        if outcome != self.expects:
            return "differs"
        return "agrees" if self.expects_part in (condition or "") else "differs"

    def command(self, preset: str) -> str:
        """The one command that re-runs only this claim's evidence (the sweeps whose ``claims`` list it)."""
        return f"python -m studies.sweeps --preset {preset} --only {self.id}"


CLAIMS = {
    c.id: c
    for c in (
        Claim(
            "C1",
            "parallel training makes the Transformer faster",
            ("seq_scaling", "long_range", "timing"),
            rules.c1_speed,
            figures.c1,
            anchor="Vaswani et al. 2017, Table 2: less training cost than recurrent and convolutional models, on GPUs",
            expects=rules.SUPPORTED,
        ),
        Claim(
            "C2",
            "long-range dependencies are handled better",
            ("long_range",),
            rules.c2_long_range,
            figures.c2,
            anchor="Bai et al. 2018: on the copy memory task LSTMs and GRUs fail at long delays where a TCN or "
            "attention succeeds",
            expects=rules.SUPPORTED,
        ),
        Claim(
            "C3",
            "no vanishing or exploding gradient through time",
            ("long_range",),
            rules.c3_gradients,
            figures.c3,
            anchor="Bengio et al. 1994, Pascanu et al. 2013: gradients through a recurrence vanish or explode with "
            "distance; attention has a path of length 1",
            expects=rules.SUPPORTED,
        ),
        Claim(
            "C4",
            "positional encoding is needed for order",
            ("positions",),
            rules.c4_positions,
            figures.c4,
            anchor="Haviv et al. 2022: causal Transformers without positional encoding learn order and come close; "
            "bidirectional ones cannot",
            expects=rules.NOT_SUPPORTED,
        ),
        Claim(
            "C5",
            "multiple heads capture different relations",
            ("heads",),
            rules.c5_heads,
            figures.c5,
            anchor="Vaswani et al. 2017, Table 3 (A): one head 0.9 BLEU worse than 8; Voita et al. 2019: "
            "specialised heads (positional, syntactic, rare words) — though Michel et al. 2019 prune most heads",
            expects=rules.SUPPORTED,
        ),
        Claim(
            "C6",
            "CNNs are local, attention is global",
            ("locality", "locality_attention", "locality_sanity", "long_range", "images"),
            rules.c6_locality,
            figures.c6,
            anchor="Bai et al. 2018: a dilated CNN whose receptive field covers the distance solves long copy; a "
            "shallow one cannot",
            expects=rules.SUPPORTED,
        ),
        Claim(
            "C7",
            "hidden states grow more abstract layer by layer",
            ("abstraction",),
            rules.c7_abstraction,
            figures.c7,
            anchor="Tenney et al. 2019: BERT's layers go from surface to semantic properties; Hewitt & Liang 2019: "
            "read probes by selectivity",
            expects=rules.SUPPORTED,
        ),
        Claim(
            "C8",
            "pre-training (MLM) improves accuracy and data efficiency",
            ("pretrain_finetune",),
            rules.c8_pretraining,
            figures.c8,
            anchor="Amos et al. 2023: self pre-training on the task's own data gives large gains over training "
            "from scratch",
            expects=rules.SUPPORTED,
        ),
        Claim(
            "C9",
            "attention weights are interpretable",
            ("positions",),
            rules.c9_interpretable,
            figures.c9,
            anchor="Jain & Wallace 2019: attention weights are often not faithful explanations (plausible, not "
            "faithful)",
            expects=rules.MIXED,
            expects_part="not faithful",
        ),
        Claim(
            "C10",
            "residual connections and LayerNorm make deep training stable",
            ("depth",),
            rules.c10_residual_norm,
            figures.c10,
            anchor="Xiong et al. 2020: post-LN needs warm-up and breaks at depth where pre-LN trains; He et al. "
            "2016 residuals",
            expects=rules.SUPPORTED,
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
