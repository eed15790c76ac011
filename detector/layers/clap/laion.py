"""laion-clap's own model code, imported offline, and the HTSAT architectures it ships.

Only the audio half of CLAP is built: the HTSAT audio branch and the ``audio_projection``
MLP, both from laion-clap's own model code (``laion_clap.clap_module.model.CLAP``) and the
model configs it ships (``clap_module/model_configs/HTSAT-*.json``). The text branch, and
with it RoBERTa and any network access, is never built.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import types
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checkpoint import how_to_enable
from .errors import CheckpointError

if TYPE_CHECKING:  # pragma: no cover
    import torch

_MAX_LISTED = 6


def laion_root() -> Path:
    spec = importlib.util.find_spec("laion_clap")  # finds, does not import, a top-level package
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the laion-clap package is not installed")
    return Path(list(spec.submodule_search_locations)[0])


def laion_model_module() -> types.ModuleType:
    """``laion_clap.clap_module.model``, imported without running the package ``__init__`` files.

    ``laion_clap/__init__.py`` imports ``hook.py`` and with it ``training/data.py``, which
    calls ``{Bert,Roberta,Bart}Tokenizer.from_pretrained`` at module level: that needs the
    Hugging Face hub (offline it retries for 30+ s, or fails with HF_HUB_OFFLINE=1).
    ``clap_module/__init__.py`` pulls in the tokenizer, loss and image-transform modules.
    ``model.py`` itself only needs htsat/pann/timm/utils (and transformers' classes, which
    it imports but does not instantiate for a "transformer" text config), so both parent
    packages are put in ``sys.modules`` as bare packages for the duration of the import.
    Without torchvision installed (requirements.in leaves it out), ``clap_module/utils.py``
    is imported first with :func:`_torchvision_stand_in` in place.
    """
    name = "laion_clap.clap_module.model"
    if name in sys.modules:
        return sys.modules[name]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    root = laion_root()
    stubs = []
    for pkg, path in (("laion_clap", root), ("laion_clap.clap_module", root / "clap_module")):
        if pkg not in sys.modules:
            module = types.ModuleType(pkg)
            module.__path__ = [str(path)]
            module.__package__ = pkg
            sys.modules[pkg] = module
            stubs.append(pkg)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if importlib.util.find_spec("torchvision") is None:
                with _torchvision_stand_in():
                    importlib.import_module("laion_clap.clap_module.utils")
            return importlib.import_module(name)
    finally:
        for pkg in stubs:  # a later `import laion_clap` must get the real package
            sys.modules.pop(pkg, None)


_TORCHVISION_MODULES = ("torchvision", "torchvision.ops", "torchvision.ops.misc")


class _FrozenBatchNorm2dUnavailable:
    """Stands in for ``torchvision.ops.misc.FrozenBatchNorm2d`` when torchvision is absent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise ImportError("torchvision is not installed: laion-clap's freeze_batch_norm_2d needs "
                          "FrozenBatchNorm2d (only for freezing a training tower, never for inference)")


@contextlib.contextmanager
def _torchvision_stand_in():
    """A minimal ``torchvision.ops.misc`` in ``sys.modules`` while laion-clap's utils.py imports.

    ``clap_module/utils.py`` does ``from torchvision.ops.misc import FrozenBatchNorm2d`` at
    module level and uses it only in ``freeze_batch_norm_2d`` (which locks an image tower for
    training; the audio path never calls it). torchvision itself is left out because PyPI's
    build needs the multi-GB CUDA torch. The stand-in is removed again on exit, so nothing
    else (transformers' availability probes, a later real import) ever sees it; torch is
    imported first for the same reason.
    """
    import torch  # noqa: F401

    for modname in _TORCHVISION_MODULES:
        module = types.ModuleType(modname)
        module.__spec__ = importlib.machinery.ModuleSpec(modname, None)
        sys.modules[modname] = module
    sys.modules["torchvision.ops.misc"].FrozenBatchNorm2d = _FrozenBatchNorm2dUnavailable
    try:
        yield
    finally:
        for modname in _TORCHVISION_MODULES:
            sys.modules.pop(modname, None)


def model_configs() -> dict[str, dict]:
    """laion-clap's shipped HTSAT model configs, by name (``HTSAT-tiny``, ``HTSAT-base`` ...)."""
    folder = laion_root() / "clap_module" / "model_configs"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("HTSAT-*.json"))}


def build_clap(architecture: str) -> "torch.nn.Module":
    """laion-clap's ``CLAP`` for ``architecture`` with a one-layer, one-token text stub.

    The audio branch and projection are exactly the package's; the text branch is the
    smallest "transformer" the constructor accepts (it is thrown away, or, in
    :func:`write_random_checkpoint`, it provides text-branch keys).
    """
    model_mod = laion_model_module()
    configs = model_configs()
    if architecture not in configs:
        raise CheckpointError(f"Unknown CLAP architecture {architecture!r}; known: {', '.join(configs)}.")
    cfg = configs[architecture]
    text_cfg = {"context_length": 2, "vocab_size": 8, "width": 8, "heads": 1, "layers": 1,
                "model_type": "transformer"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.meshgrid indexing warning inside HTSAT
        return model_mod.CLAP(cfg["embed_dim"], cfg["audio_cfg"], text_cfg, enable_fusion=False)


def audio_modules(clap: "torch.nn.Module") -> "torch.nn.ModuleDict":
    """The audio half of a ``CLAP``: keys ``audio_branch.*`` and ``audio_projection.*``."""
    import torch

    return torch.nn.ModuleDict({"audio_branch": clap.audio_branch, "audio_projection": clap.audio_projection})


def write_random_checkpoint(path: str | os.PathLike, architecture: str = "HTSAT-tiny", seed: int = 0) -> Path:
    """Write a checkpoint with random weights in LAION's file layout (for tests and benchmarks).

    The layout is that of the released ``.pt`` files: ``{"epoch", "name", "state_dict"}``
    where the state dict holds the whole CLAP model (audio branch, audio projection and
    transform, a text branch, logit scales) with DataParallel's ``module.`` prefix. The
    weights are laion-clap's own random initialisation under ``torch.manual_seed(seed)``.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_clap(architecture)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    path = Path(path)
    torch.save({"epoch": 15, "name": f"random-{architecture}-seed{seed}", "state_dict": state}, path)
    return path


def infer_architecture(state: Mapping[str, "torch.Tensor"]) -> str:
    """The HTSAT config (``HTSAT-tiny``, ``HTSAT-base`` ...) whose shapes fit ``state``.

    Uses the audio projection's input width (the HTSAT output width: 768 tiny, 1024 base,
    2048 large) and, to tell configs of equal width apart, the STFT kernel length.
    """
    proj = state.get("audio_projection.0.weight")
    if proj is None or proj.ndim != 2:
        raise CheckpointError("The checkpoint has no audio projection (audio_projection.0.weight), "
                              "so it is not a LAION-CLAP HTSAT checkpoint.", how_to_enable())
    stft = state.get("audio_branch.spectrogram_extractor.stft.conv_real.weight")
    matches = [
        name for name, cfg in model_configs().items()
        if cfg["embed_dim"] == proj.shape[1]
        and (stft is None or stft.shape[-1] == cfg["audio_cfg"]["window_size"])
    ]
    if len(matches) != 1:
        raise CheckpointError(
            f"Cannot tell the HTSAT architecture of this checkpoint: its audio projection takes "
            f"{proj.shape[1]} inputs, which fits {', '.join(matches) or 'no shipped HTSAT config'}.",
            how_to_enable())
    return matches[0]


def check_keys(expected: Mapping[str, "torch.Tensor"], state: Mapping[str, "torch.Tensor"], name: str,
                architecture: str) -> None:
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    problems = []
    if missing:
        problems.append(f"{len(missing)} audio weight(s) missing ({listing(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unknown audio weight(s) ({listing(unexpected)}; a fusion checkpoint?)")
    if wrong:
        shapes = [f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}" for k in wrong[:_MAX_LISTED]]
        problems.append(f"{len(wrong)} weight(s) of the wrong shape ({'; '.join(shapes)})")
    if problems:
        raise CheckpointError(
            f"{name} does not fit the {architecture} audio encoder: {'; '.join(problems)}. "
            "Only complete non-fusion LAION-CLAP HTSAT checkpoints can be used.", how_to_enable())


def listing(keys: list[str]) -> str:
    more = f", ... {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
    return ", ".join(keys[:_MAX_LISTED]) + more


__all__ = ["audio_modules", "build_clap", "check_keys", "infer_architecture", "laion_model_module", "laion_root",
           "listing", "model_configs", "write_random_checkpoint"]
