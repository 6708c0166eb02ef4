"""The one registry of the course text's claims, each a :class:`studies.protocol.Study` declaration: id, text,
δ (the minimal effect that would matter, declared here before running — never looked up by a folder's name),
the literature anchor and the outcome that would agree with it, positive and negative controls, its share of the
Holm family, the sweeps that feed it, its verdict rule and figure."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from studies import facts
from studies.claims import figures, rules
from studies.protocol import Control, Study, check_controls, sweep_values

PRESETS = Path(__file__).resolve().parents[2] / "conf" / "claims"


@dataclass(frozen=True)
class Claim(Study):
    sources: tuple[str, ...] = ()  # sweep folders under the claims root whose runs are its evidence
    rule: Callable | None = None  # rule(runs, delta=...) -> rules.Verdict
    figure: Callable | None = None  # figure(runs, verdict) -> matplotlib Figure | None
    expects_part: str = ""  # for a *mixed* expectation: words of the verdict's condition that say which part holds

    @property
    def text(self) -> str:
        return self.question

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

    def judge(self, runs: list[dict]) -> rules.Verdict:
        """Controls first (a failed one makes the verdict inconclusive and names the arm), then the rule at the
        declared δ."""
        checked, failed = check_controls(self.controls, runs)
        if failed:
            v = rules.inconclusive(rules_text(self, runs), failed, {"controls": checked})
            v.key = failed[0]
            return v
        v = self.rule(runs, delta=self.delta)
        if checked:
            v.evidence["controls"] = checked
        return v


def rules_text(claim: Claim, runs: list[dict]) -> str:
    """The rule's own words (from a run of the rule on no runs: every rule says its rule when inconclusive)."""
    return claim.rule([], delta=claim.delta).rule


def transformer_on(task: str, **where) -> Callable[[dict], bool]:
    return lambda r: (
        r.get("arch") == "transformer"
        and facts.task_class(r) == task
        and all(facts.same(facts.setting(r, k), v) for k, v in where.items())
    )


CLAIMS = {
    c.id: c
    for c in (
        Claim(
            id="C1",
            question="parallel training makes the Transformer faster",
            sources=("seq_scaling", "long_range", "timing"),
            rule=rules.c1_speed,
            figure=figures.c1,
            delta=0.10,  # relative: the transformer ≥ 10% faster (time to target / throughput)
            tests=2,  # one per recurrent family
            anchor="Vaswani et al. 2017, Table 2: less training cost than recurrent and convolutional models, on GPUs",
            expects=rules.SUPPORTED,
        ),
        Claim(
            id="C2",
            question="long-range dependencies are handled better",
            sources=("long_range",),
            rule=rules.c2_long_range,
            figure=figures.c2,
            delta=0.05,  # accuracy drop shortest → longest delay, recurrent minus the transformer
            tests=2,
            anchor="Bai et al. 2018: on the copy memory task LSTMs and GRUs fail at long delays where a TCN or "
            "attention succeeds",
            expects=rules.SUPPORTED,
        ),
        Claim(
            id="C3",
            question="no vanishing or exploding gradient through time",
            sources=("long_range",),
            rule=rules.c3_gradients,
            figure=figures.c3,
            delta=0.10,  # decades of gradient per decade of delay: flat = L·gradient above −δ, the gradient below +δ
            tests=6,  # three archs × (init, early)
            anchor="Bengio et al. 1994, Pascanu et al. 2013: gradients through a recurrence vanish or explode with "
            "distance; attention has a path of length 1",
            expects=rules.SUPPORTED,
        ),
        Claim(
            id="C4",
            question="positional encoding is needed for order",
            sources=("positions", "positions_lm", "positions_lm_context"),
            rule=rules.c4_positions,
            figure=figures.c4,
            delta=0.05,  # copy accuracy, causal sinusoidal − none; LM test loss (nats), none − sinusoidal
            tests=2,  # copy and language modelling
            controls=(
                Control(
                    "causal transformer with sinusoidal positions on copy",
                    transformer_on(facts.COPY_TASK, **{"arch.causal": True, "arch.pos_encoding": "sinusoidal"}),
                ),
            ),
            anchor="Haviv et al. 2022: causal Transformer LMs without positional encoding learn order and come "
            "close; bidirectional ones cannot (exact-position copy was not their test)",
            expects=rules.MIXED,  # the LM half close (not needed); copy, where order is the whole task: open
            expects_part="copy",
        ),
        Claim(
            id="C5",
            question="multiple heads capture different relations",
            sources=("heads",),
            rule=rules.c5_heads,
            figure=figures.c5,
            delta=0.05,  # accuracy: most heads − 1 head at equal total head dimension
            tests=2,  # the gain and the heads' diversity
            controls=(
                Control("1 head on recall", transformer_on(rules.RECALL_TASK, **{"arch.n_heads": 1})),
                Control(
                    "most heads on recall",
                    lambda r: transformer_on(rules.RECALL_TASK)(r) and (facts.setting(r, "arch.n_heads") or 0) > 1,
                ),
            ),
            anchor="Vaswani et al. 2017, Table 3 (A): one head 0.9 BLEU worse than 8; Voita et al. 2019: "
            "specialised heads (positional, syntactic, rare words) — though Michel et al. 2019 prune most heads",
            expects=rules.SUPPORTED,
        ),
        Claim(
            id="C6",
            question="CNNs are local, attention is global",
            sources=("locality", "locality_attention", "locality_sanity", "long_range", "images"),
            rule=rules.c6_locality,
            figure=figures.c6,
            delta=0.05,  # accuracy: covering cnn − blind cnn, and one-layer transformer − blind cnn, at the distance
            # two per delay: the covering cnn's lead (locality) and the transformer's (globality) over the blind cnn
            tests=lambda preset: 2 * (len(sweep_values(preset, "locality", "task.delay")) or 1),
            # the control reads the covering cnns the rule compares: the locality sweeps' (one budget), never
            # long_range's tuned models, which the rule keeps apart (a long_range cnn that covers delay 50 but has
            # not learned copy in 400 steps says nothing about C6's arms)
            controls=(
                Control(
                    rules.COVERING_CONTROL.label,
                    lambda r: rules.covering_cnn(r) and r.get("_source") != "long_range",
                    margin=rules.COVERING_CONTROL.margin,  # pooled over the delays here; per delay in the rule
                ),
            ),
            anchor="Bai et al. 2018: a dilated CNN whose receptive field covers the distance solves long copy; a "
            "shallow one cannot — and one attention layer reaches any distance",
            expects=rules.SUPPORTED,
        ),
        Claim(
            id="C7",
            question="hidden states grow more abstract layer by layer",
            sources=("abstraction",),
            rule=rules.c7_abstraction,
            figure=figures.c7,
            delta=0.05,  # selectivity / CKA change across layers 1..L, layer 0 excluded
            tests=2,
            controls=(Control("transformer on the sentence labels", transformer_on(rules.SENTIMENT_TASK)),),
            anchor="Tenney et al. 2019: BERT's layers go from surface to semantic properties; Hewitt & Liang 2019: "
            "read probes by selectivity",
            expects=rules.SUPPORTED,
        ),
        Claim(
            id="C8",
            question="pre-training (MLM) improves accuracy and data efficiency",
            sources=("pretrain_finetune",),
            rule=rules.c8_pretraining,
            figure=figures.c8,
            delta=0.02,  # accuracy: pre-trained − scratch at the same fine-tuning steps (compute-matched beside)
            tests=2,  # the transformer decides (accuracy; data efficiency); the other archs are reported beside it
            controls=(
                Control(
                    "transformer fine-tuned from scratch",
                    lambda r: transformer_on(rules.SENTIMENT_TASK)(r) and rules.start(r) == "scratch",
                ),
                # the pre-training learned more than the unigram distribution (answering the commonest token:
                # 0.186 on the MR sentences at 2000 words, mostly <unk>; the quick MLM stage reached ≈ 0.25)
                Control("transformer's MLM stage, above the unigram rate", transformer_on(rules.MLM_TASK)),
            ),
            anchor="Amos et al. 2023: self pre-training on the task's own data gives large gains over training "
            "from scratch",
            expects=rules.SUPPORTED,
        ),
        Claim(
            id="C9",
            question="attention weights are interpretable",
            sources=("positions", "faithfulness"),
            rule=rules.c9_interpretable,
            figure=figures.c9,
            delta=0.05,  # accuracy drop when the attended source is masked, beyond the control's
            tests=2,  # plausible, faithful
            controls=(Control("the seed's transformer on copy", lambda r: r in rules.c9_runs([r])),),
            anchor="Jain & Wallace 2019: attention weights are often not faithful explanations (plausible, not "
            "faithful)",
            expects=rules.MIXED,
            expects_part="not faithful",
        ),
        Claim(
            id="C10",
            question="residual connections and LayerNorm make deep training stable",
            sources=("depth", "depth_bare"),
            rule=rules.c10_residual_norm,
            figure=figures.c10,
            delta=0.05,  # failure-rate interaction depth × block
            tests=2,  # one per ablated block
            controls=(
                Control(
                    "transformer at depth ≤ 2, pre- or post-norm",
                    lambda r: (
                        r.get("arch") == "transformer"
                        and (facts.n_layers(r) or 99) <= 2
                        and rules.block_kind(r) in ("pre-norm", "post-norm")
                    ),
                ),
            ),
            anchor="Xiong et al. 2020: post-LN needs warm-up and breaks at depth where pre-LN trains; He et al. "
            "2016 residuals",
            expects=rules.SUPPORTED,
        ),
    )
}


def deltas(preset: str | None = None) -> dict:
    """{claim id: δ} as the declarations above state them (the preset no longer declares δ: one source)."""
    return {cid: c.delta for cid, c in CLAIMS.items()}


def preset_doc(preset: str | None) -> dict | None:
    """The preset's document (conf/claims/<preset>.yaml), or None for a name that is not a preset (a path such as
    ``../x`` is never a preset name)."""
    if not preset or not re.fullmatch(r"[A-Za-z0-9_-]+", str(preset)):
        return None
    path = PRESETS / f"{preset}.yaml"
    if not path.is_file():
        return None
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True) or {}
