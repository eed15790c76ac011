"""The analysis profile: a short id of every setting that shapes a report.

The history keeps one report per ``(audio SHA-256, profile)``, so a re-upload analysed
with the same settings is a lookup, not a new analysis. The dashboard, the CLI and
batches all key the history with :func:`analysis_profile`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

from ..features.track import DEFAULT_SEGMENT_SECONDS
from ..layers.heuristics import Thresholds


_DEFAULT_WIDTH = float(Thresholds().stability_width)


class _Checkpoint(Protocol):
    checkpoint_sha256: str


class _Model(Protocol):
    sha256: str


def _canonical(value: Any) -> Any:
    """Numbers as floats (so ``1`` and ``1.0`` hash alike), mappings as plain dicts."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    raise TypeError(f"Cannot use a {type(value).__name__} in a profile id.")


def profile_id(thresholds: Mapping | Thresholds, components: Mapping[str, str] | None = None) -> str:
    """A short, stable id of thresholds and model components.

    Parameters
    ----------
    thresholds : mapping or Thresholds
        The threshold profile (``Thresholds.to_dict()`` or the instance itself).
    components : mapping of str to str, optional
        Everything else that shapes a report, e.g. ``{"clap": checkpoint_sha256,
        "classifier": model_sha256}``. Omit what is not active.

    Returns
    -------
    str
        The first 16 hex digits of the SHA-256 of the canonical JSON of both. Key
        order and ``1`` vs ``1.0`` do not change it; any threshold or component does.
        ``stability_width`` counts only away from its default, so the ids made before it
        existed still name the same settings.
    """
    if isinstance(thresholds, Thresholds):
        thresholds = thresholds.to_dict()
    if _canonical(thresholds.get("stability_width", _DEFAULT_WIDTH)) == _DEFAULT_WIDTH:
        thresholds = {k: v for k, v in thresholds.items() if k != "stability_width"}
    payload = {"thresholds": _canonical(thresholds), "components": {str(k): str(v) for k, v in (components or {}).items()}}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def analysis_profile(
    thresholds: Thresholds,
    *,
    clap: _Checkpoint | None = None,
    model: _Model | None = None,
    segment_seconds: float = DEFAULT_SEGMENT_SECONDS,
) -> str:
    """The history key of an analysis: the thresholds, the CLAP checkpoint and precision, the classifier, the
    segment length.

    A component that is off (None) or at its default is left out (the CLAP precision
    counts only away from fp32), so a profile id stays the same when a new optional
    component is introduced.

    Raises
    ------
    ValueError
        For a component whose identity (SHA-256) cannot be read: reusing a stored
        analysis of a different model would be wrong.
    """
    components = {}
    if float(segment_seconds) != DEFAULT_SEGMENT_SECONDS:
        components["segment_seconds"] = repr(float(segment_seconds))
    for key, component, attribute in (("clap", clap, "checkpoint_sha256"), ("classifier", model, "sha256")):
        if component is None:
            continue
        ident = getattr(component, attribute, None)
        if not isinstance(ident, str):
            raise ValueError(f"Cannot tell which {key} component this is (it has no {attribute}), so stored "
                             "analyses cannot be matched to it.")
        components[key] = ident
    precision = getattr(clap, "precision", "fp32") if clap is not None else "fp32"
    if precision != "fp32":
        components["clap_precision"] = str(precision)
    return profile_id(thresholds, components)


__all__ = ["analysis_profile", "profile_id"]
