"""A fast inference pass through laion-clap's HTSAT audio encoder.

laion-clap's ``HTSAT_Swin_Transformer.forward`` is written for training and for looking
inside the model: it computes the STFT as a 1024-tap ``Conv1d`` over DFT matrices, rolls
and partitions every block's tokens into windows and back with four copies, keeps every
block's attention map, and computes frame-wise and clip-wise AudioSet heads that the
embedding does not use. :class:`FastHTSAT` runs the *same modules and weights* with the
same arithmetic, organised for inference:

* the power spectrogram by FFT (``torch.stft``), when the checkpoint's conv kernels are
  the Hann-windowed DFT they were built as (otherwise laion-clap's own conv runs);
* each Swin block in its windowed token order: the cyclic shift, the window partition and
  their inverses become one precomputed gather per block (LayerNorm, the MLP and the
  residual adds act on each token alone, so they do not care about the order);
* attention by ``F.scaled_dot_product_attention``, with the relative position bias and
  the shift mask added up once into one mask per block;
* linear layers by oneDNN with weights packed once, where this torch build has it (a
  self-check falls back to ``F.linear`` otherwise), or at a reduced precision (int8 or
  bf16, :mod:`detector.layers.clap.precision`) when asked;
* only the embedding: the mean over all tokens of the final LayerNorm, which is what
  laion-clap's ``avgpool`` over the regrouped tokens computes.

The result equals laion-clap's forward up to float32 rounding; ``tests/test_clap.py``
checks it (cosine > 1 - 1e-6) and :func:`detector.layers.clap.load_encoder` re-checks it on
every checkpoint it loads.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .precision import check_precision, reduced_linear

LinearFactory = Callable[[nn.Linear], Callable[[torch.Tensor], torch.Tensor]]


def windowed_order(height: int, width: int, size: int, shift: int) -> torch.Tensor:
    """Token order of a Swin block: roll by ``-shift``, then ``size`` x ``size`` windows row by row.

    Entry ``k`` is the row-major (natural) index of the token that comes ``k``-th, i.e.
    ``window_partition(torch.roll(x, (-shift, -shift)))`` flattened equals ``x_flat[order]``.
    """
    index = torch.arange(height * width).view(height, width)
    if shift:
        index = torch.roll(index, shifts=(-shift, -shift), dims=(0, 1))
    return index.view(height // size, size, width // size, size).permute(0, 2, 1, 3).reshape(-1)


def merge_order(height: int, width: int) -> torch.Tensor:
    """Token order that makes ``PatchMerging``'s 2 x 2 concatenation a plain reshape to (L/4, 4C)."""
    index = torch.arange(height * width).view(height, width)
    quads = (index[0::2, 0::2], index[1::2, 0::2], index[0::2, 1::2], index[1::2, 1::2])
    return torch.stack(quads, dim=-1).reshape(-1)


def _gather(current: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """Indices that take tokens stored in order ``current`` into order ``target`` (None: same order)."""
    index = torch.argsort(current)[target]
    return None if torch.equal(index, torch.arange(len(index))) else index


class Linear:
    """``F.linear`` with the weights packed once for oneDNN, or plain ``F.linear`` (``packed=False``)."""

    def __init__(self, module: nn.Linear, packed: bool) -> None:
        self.weight, self.bias = module.weight, module.bias
        self.packed = torch.ops.mkldnn._reorder_linear_weight(self.weight) if packed else None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is None:
            return F.linear(x, self.weight, self.bias)
        y = torch.ops.mkldnn._linear_pointwise(x.reshape(-1, x.shape[-1]), self.packed, self.bias, "none", [], "")
        return y.view(*x.shape[:-1], y.shape[-1])


def onednn_linear_ok() -> bool:
    """Whether this torch build has oneDNN's packed linear and it agrees with ``F.linear``."""
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        generator = torch.Generator().manual_seed(0)
        module = nn.Linear(64, 48)
        x = torch.randn(37, 64, generator=generator)
        with torch.inference_mode():
            return bool(torch.allclose(Linear(module, True)(x), F.linear(x, module.weight, module.bias),
                                       rtol=1e-5, atol=1e-5))
    except (RuntimeError, AttributeError, NotImplementedError):
        return False


class SwinBlock:
    """One ``SwinTransformerBlock`` on tokens kept in its windowed order."""

    def __init__(self, block: nn.Module, gather: torch.Tensor | None, packed: bool,
                 linear: LinearFactory | None = None) -> None:
        linear = linear or (lambda module: Linear(module, packed))
        attn = block.attn
        height, width = block.input_resolution
        size = block.window_size
        self.gather = gather
        self.norm1, self.norm2 = block.norm1, block.norm2
        self.qkv, self.proj = linear(attn.qkv), linear(attn.proj)
        if not isinstance(block.mlp.act, nn.GELU):
            raise ValueError(f"FastHTSAT expects GELU in the MLP, not {block.mlp.act}")
        self.fc1, self.fc2 = linear(block.mlp.fc1), linear(block.mlp.fc2)
        self.gelu = block.mlp.act.approximate
        self.heads, self.scale = attn.num_heads, attn.scale
        self.tokens = size * size
        self.windows = (height // size) * (width // size)
        bias = attn.relative_position_bias_table[attn.relative_position_index.view(-1)]
        bias = bias.view(self.tokens, self.tokens, -1).permute(2, 0, 1)  # heads, N, N
        # with a shift, the mask differs per window: (windows, heads, N, N); else (1, heads, N, N)
        self.bias = (bias[None] + block.attn_mask[:, None]) if block.attn_mask is not None else bias[None]
        self._masks: dict[int, torch.Tensor] = {}

    def mask(self, batch: int) -> torch.Tensor:
        """The additive attention mask for ``batch`` tracks' windows (batch-major, like laion-clap)."""
        if len(self.bias) == 1:
            return self.bias
        mask = self._masks.get(batch)
        if mask is None:  # one per batch size (at most the encoder's batch size); setdefault is thread-safe
            mask = self._masks.setdefault(batch, self.bias.repeat(batch, 1, 1, 1))
        return mask

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.gather is not None:
            x = x.index_select(1, self.gather)
        batch, length, channels = x.shape
        qkv = self.qkv(self.norm1(x)).view(batch * self.windows, self.tokens, 3, self.heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (batch * windows, heads, N, head_dim)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask(batch), scale=self.scale)
        x = x + self.proj(out.transpose(1, 2).reshape(batch, length, channels))
        x += self.fc2(torch.ops.aten.gelu_(self.fc1(self.norm2(x)), approximate=self.gelu))  # in place: no new buffers
        return x


class PatchMerge:
    """``PatchMerging``: one gather into 2 x 2 groups, LayerNorm, reduction."""

    def __init__(self, merging: nn.Module, gather: torch.Tensor | None, packed: bool,
                 linear: LinearFactory | None = None) -> None:
        linear = linear or (lambda module: Linear(module, packed))
        self.gather, self.norm, self.reduction = gather, merging.norm, linear(merging.reduction)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, channels = x.shape
        if self.gather is not None:
            x = x.index_select(1, self.gather)
        return self.reduction(self.norm(x.reshape(batch, length // 4, 4 * channels)))


def stft_window(stft: nn.Module) -> torch.Tensor | None:
    """The analysis window of torchlibrosa's conv STFT, if its kernels are exactly a windowed DFT.

    Row 0 of the real kernel (frequency 0) is the window itself; the rest must be
    ``window * cos`` and ``-window * sin`` of the DFT, as torchlibrosa builds them.
    """
    real, imag = stft.conv_real.weight[:, 0, :].double(), stft.conv_imag.weight[:, 0, :].double()
    n_fft = real.shape[1]
    if real.shape != (n_fft // 2 + 1, n_fft) or imag.shape != real.shape:
        return None
    window = real[0]
    phase = 2 * np.pi * torch.outer(torch.arange(real.shape[0]), torch.arange(n_fft)).double() / n_fft
    if not (torch.allclose(real, window * torch.cos(phase), atol=1e-6)
            and torch.allclose(imag, -window * torch.sin(phase), atol=1e-6)):
        return None
    return stft.conv_real.weight[0, 0, :].detach().clone()


class FastHTSAT:
    """Embeds 10 s windows with a loaded laion-clap HTSAT branch and its audio projection.

    Parameters
    ----------
    branch
        ``CLAP.audio_branch`` (a non-fusion ``HTSAT_Swin_Transformer`` in eval mode).
    projection
        ``CLAP.audio_projection``.
    packed
        Use oneDNN's packed linear (default: when :func:`onednn_linear_ok`).
    precision
        The Swin blocks' linear layers in ``"fp32"`` (the default: ``packed`` decides how),
        ``"int8"`` or ``"bf16"`` (:mod:`detector.layers.clap.precision`). The STFT, the
        attention, the norms and the projection stay fp32.
    """

    def __init__(self, branch: nn.Module, projection: nn.Module, packed: bool | None = None, *,
                 precision: str = "fp32") -> None:
        if getattr(branch, "enable_fusion", False) or getattr(branch, "ape", False):
            raise ValueError("FastHTSAT supports non-fusion HTSAT without absolute position embedding")
        self.branch, self.projection = branch, projection
        self.precision = check_precision(precision)
        self.packed = onednn_linear_ok() if packed is None else packed
        linear = None if precision == "fp32" else reduced_linear(precision)
        stft = branch.spectrogram_extractor.stft
        self.n_fft, self.hop = stft.conv_real.weight.shape[-1], stft.conv_real.stride[0]
        self.window = stft_window(stft) if stft.center and stft.pad_mode == "reflect" else None
        self.steps: list[SwinBlock | PatchMerge] = []
        order = torch.arange(branch.patch_embed.num_patches)
        for layer in branch.layers:
            for block in layer.blocks:
                target = windowed_order(*block.input_resolution, block.window_size, block.shift_size)
                self.steps.append(SwinBlock(block, _gather(order, target), self.packed, linear))
                order = target
            if layer.downsample is not None:
                target = merge_order(*layer.downsample.input_resolution)
                self.steps.append(PatchMerge(layer.downsample, _gather(order, target), self.packed, linear))
                order = torch.arange(len(target) // 4)

    def spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        """Power spectrogram (batch, 1, frames, bins), as ``branch.spectrogram_extractor`` computes it."""
        if self.window is None:
            return self.branch.spectrogram_extractor(waveform)
        spec = torch.stft(waveform, self.n_fft, hop_length=self.hop, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True)
        return (spec.real.square() + spec.imag.square()).transpose(1, 2).unsqueeze(1)

    def hidden(self, waveform: torch.Tensor) -> torch.Tensor:
        """HTSAT's ``embedding`` output (batch, width) for waveforms (batch, 480000)."""
        branch = self.branch
        x = branch.logmel_extractor(self.spectrogram(waveform))
        x = branch.bn0(x.transpose(1, 3)).transpose(1, 3)
        x = branch.patch_embed(branch.reshape_wav2img(x))
        for step in self.steps:
            x = step(x)
        return branch.norm(x).mean(dim=1)

    def __call__(self, waveform: torch.Tensor) -> torch.Tensor:
        """L2-normalised CLAP audio embeddings (batch, 512)."""
        return F.normalize(self.projection(self.hidden(waveform)), dim=-1)


def reference_embeddings(branch: nn.Module, projection: nn.Module, waveform: torch.Tensor) -> torch.Tensor:
    """laion-clap's own forward (what ``CLAP.encode_audio`` computes), L2-normalised."""
    hidden = branch({"waveform": waveform}, mixup_lambda=None, device=waveform.device)["embedding"]
    return F.normalize(projection(hidden), dim=-1)
