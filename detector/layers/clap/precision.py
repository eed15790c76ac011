"""The arithmetic precision of the CLAP encoder's linear layers: fp32, int8 or bf16.

The linear layers of HTSAT-base take about 80 % of its time and already run near the
fp32 peak of the CPU, so the only way to go much faster is less arithmetic per weight:

``fp32``  float32 everywhere (the default: bit-identical to every earlier release).
``int8``  dynamic quantisation through oneDNN: each weight matrix is quantised once, per
          output channel, to int8; each activation per tensor to uint8 as it arrives; the
          products accumulate in int32 and come back as float32 (VNNI/AMX on CPUs that
          have them). Everything else (STFT, LayerNorm, attention, projection) stays fp32.
``bf16``  the linear layers in bfloat16 through oneDNN (AMX/AVX512-BF16), float32 in and out.

A reduced precision drifts the embeddings a little; :mod:`detector.bench` (``--clap``)
and ``tests/test_clap_precision.py`` measure how much (cosine to fp32 per window,
embedding statistics, a classifier's decisions). Both keep every window above cosine
0.999 and the statistics within :data:`detector.layers.clap.drift.STAT_TOLERANCES`;
bf16 drifts about ten times less than int8 and kept 119 or 120 of 120 out-of-fold
decisions of a classifier trained on fp32 embeddings, where int8 changed 2 to 3 of 120
(98.3 % on HTSAT-base, 97.5 % on HTSAT-tiny, random weights; below the 99 % bar of
:data:`detector.training.agreement.MIN_AGREEMENT`). So bf16 is the reduced precision to
prefer; int8 stays available (as fast, or slightly faster on one thread). :func:`detector.layers.clap.load_encoder`
checks every reduced-precision encoder against fp32 on a probe and keeps fp32 (saying
why) when it disagrees or this torch build cannot run it.

Reports record the precision that ran (``versions["clap_precision"]``); reports and
model cards from before it existed were fp32 (:func:`recorded_precision`).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

Precision = Literal["fp32", "int8", "bf16"]
PRECISIONS: tuple[str, ...] = ("fp32", "int8", "bf16")
DEFAULT_PRECISION = "fp32"
PRECISION_LABELS = {
    "fp32": "fp32 (exact, the default)",
    "int8": "int8 (fast; drifts most: can change a classifier's closest decisions)",
    "bf16": "bf16 (fast on CPUs with AMX or AVX512-BF16; decisions kept in the checks)",
}
PRECISION_MIN_COSINE = 0.99
"""A reduced-precision encoder whose embedding of the probe is further than this from fp32's is not used."""

_engine_lock = threading.Lock()  # torch's quantized engine is process-wide: switch it for packing only


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ``ValueError`` that lists them."""
    if precision not in PRECISIONS:
        raise ValueError(f"CLAP precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    return precision


def recorded_precision(versions: Mapping[str, str] | None) -> str | None:
    """The CLAP precision a report's ``versions`` (or a model card's ``clap`` entry) records.

    ``None`` when CLAP did not run (no checkpoint recorded); ``"fp32"`` for reports and
    cards made before the precision was recorded, which all ran in fp32.
    """
    if not versions:
        return None
    if "clap_precision" in versions:
        return str(versions["clap_precision"])
    if "precision" in versions:  # a model card's "clap" entry
        return str(versions["precision"])
    if versions.get("clap_checkpoint_sha256") or versions.get("checkpoint_sha256"):
        return DEFAULT_PRECISION
    return None


def mismatch_warning(active: str, trained: str, model_name: str) -> str:
    """The warning shown when a classifier's embeddings were made at another precision than the active one."""
    return (f"The classifier {model_name} was trained on {trained} CLAP embeddings, but this analysis embedded the "
            f"track in {active}: its P(AI) may be slightly off. Analyse with --clap-precision {trained} (the "
            f"Models page's precision selector) or retrain the classifier on {active} embeddings.")


def precision_warnings(clap: object | None, model: object | None) -> tuple[str, ...]:
    """The :func:`mismatch_warning` when ``model`` was trained on CLAP embeddings of another precision than
    ``clap`` runs or ran in; ``()`` otherwise.

    ``clap`` is anything with a ``precision`` (an encoder, or the features it made); ``model``
    says its own through ``clap_precision`` (:class:`detector.layers.classifier.TrainedModel`:
    None for a model that takes no CLAP embeddings).
    """
    active, trained = getattr(clap, "precision", None), getattr(model, "clap_precision", None)
    if active is None or trained is None or trained == active:
        return ()
    return (mismatch_warning(active, trained, getattr(model, "name", "in use")),)


class Int8Linear:
    """A linear layer as oneDNN dynamic int8: weights per output channel, activations per tensor."""

    def __init__(self, module: "nn.Linear") -> None:
        import torch

        weight = module.weight.detach()
        scales = (weight.abs().amax(dim=1).double() / 127.0).clamp_min(1e-12)
        with _engine_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's deprecation note on quantized tensors
            previous = torch.backends.quantized.engine
            torch.backends.quantized.engine = "onednn"
            try:
                qweight = torch.quantize_per_channel(weight, scales, torch.zeros(len(scales), dtype=torch.long),
                                                     0, torch.qint8)
                bias = None if module.bias is None else module.bias.detach()
                self.packed = torch.ops.quantized.linear_prepack(qweight, bias)
            finally:
                torch.backends.quantized.engine = previous

    def __call__(self, x: "torch.Tensor") -> "torch.Tensor":
        import torch

        y = torch.ops.quantized.linear_dynamic(x.reshape(-1, x.shape[-1]), self.packed, False)
        return y.view(*x.shape[:-1], y.shape[-1])


class Bf16Linear:
    """A linear layer in bfloat16 by oneDNN (weights packed once), float32 in and out."""

    def __init__(self, module: "nn.Linear") -> None:
        import torch

        self.weight = torch.ops.mkldnn._reorder_linear_weight(module.weight.detach().bfloat16())
        self.bias = None if module.bias is None else module.bias.detach().bfloat16()

    def __call__(self, x: "torch.Tensor") -> "torch.Tensor":
        import torch

        y = torch.ops.mkldnn._linear_pointwise(x.reshape(-1, x.shape[-1]).bfloat16(), self.weight, self.bias,
                                               "none", [], "")
        return y.float().view(*x.shape[:-1], y.shape[-1])


def unsupported(precision: str) -> str | None:
    """Why this torch build / CPU cannot run ``precision`` (None: it can)."""
    import torch

    if precision == "int8" and "onednn" not in torch.backends.quantized.supported_engines:
        return "this torch build has no oneDNN quantized engine"
    if precision == "bf16":
        supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        if not torch.backends.mkldnn.is_available() or supported is None or not supported():
            return "this CPU or torch build has no oneDNN bfloat16 support (AVX512-BF16 or AMX)"
    return None


def reduced_linear(precision: str) -> Callable[["nn.Linear"], Callable[["torch.Tensor"], "torch.Tensor"]]:
    """The linear-layer factory of a reduced ``precision`` (``int8`` or ``bf16``)."""
    return {"int8": Int8Linear, "bf16": Bf16Linear}[check_precision(precision)]


__all__ = ["DEFAULT_PRECISION", "PRECISIONS", "PRECISION_LABELS", "PRECISION_MIN_COSINE", "Bf16Linear", "Int8Linear",
           "Precision", "check_precision", "mismatch_warning", "precision_warnings", "recorded_precision", "reduced_linear",
           "unsupported"]
