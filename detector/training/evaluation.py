"""A saved classifier's metrics on a labelled dataset."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..features.vectors import CLAP, FeatureSetUnavailable
from ..layers.clap import ClapEncoder, precision_warnings
from ..layers.classifier import TrainedModel
from ..metrics import Metrics, compute_metrics
from ..types import Progress
from .dataset import Dataset, DatasetError, SkippedFile
from .vectors import VectorCache, extract_vectors


@dataclass(frozen=True)
class EvaluationResult:
    """A saved model's metrics on a dataset; ``warnings`` say what may make them differ from its training."""

    model: str
    feature_set: str
    metrics: Metrics
    skipped: tuple[SkippedFile, ...]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"model": self.model, "feature_set": self.feature_set, "metrics": self.metrics.to_dict(),
                "skipped": [asdict(s) for s in self.skipped], "warnings": list(self.warnings)}


def evaluate(
    model: TrainedModel,
    dataset: Dataset,
    *,
    clap: ClapEncoder | None = None,
    cache: VectorCache | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Score every usable file of ``dataset`` with ``model`` and compare with the labels.

    A CLAP model evaluated on embeddings of another precision than it was trained on
    (``clap.precision`` against its card) is evaluated, with a warning.

    Raises
    ------
    DatasetError
        When no file could be used.
    """
    if model.feature_set is CLAP and clap is None:
        raise FeatureSetUnavailable(f"the model {model.name} was trained on CLAP embeddings, and the CLAP layer "
                                    "is not available.")
    vectors = extract_vectors(dataset, model.feature_set, clap=clap, cache=cache, use_cache=use_cache,
                              progress=progress)
    want = (model.card.get("clap") or {}).get("checkpoint_sha256")
    if model.feature_set is CLAP and vectors.clap_checkpoint and want != vectors.clap_checkpoint["checkpoint_sha256"]:
        raise FeatureSetUnavailable(f"the model {model.name} was trained on a different CLAP checkpoint than "
                                    "the one available now.")
    if not vectors.files:
        raise DatasetError("No usable audio files to evaluate on.")
    return EvaluationResult(model.name, model.feature_set.version,
                            compute_metrics(vectors.y, model.predict_proba(vectors.X)), vectors.skipped,
                            precision_warnings(clap, model))


__all__ = ["EvaluationResult", "evaluate"]
