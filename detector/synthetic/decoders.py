"""Small transposed-convolution decoders, to make audio with a known decoder fingerprint.

Real generators (Suno, Udio and the like) decode through strided transposed
convolutions; none of their audio exists on this machine. These autoencoders stand in:
an encoder of strided convolutions down to a latent rate, and a decoder of
``ConvTranspose1d`` layers with the same strides back up, run at an internal rate and
resampled to the output rate afterwards, as generators often are. Weights are random
(seeded) or briefly trained to reconstruct the input, so the output sounds like the
input rather than noise. torch is imported only here and in the CLAP layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr


@dataclass(frozen=True)
class DecoderSpec:
    """One decoder: its strides (in decoding order, last layer last), internal rate and training.

    ``steps`` is the number of training steps (0: random weights).
    """

    strides: tuple[int, ...]
    rate: int
    steps: int = 0
    channels: int = 16
    seed: int = 0

    @property
    def name(self) -> str:
        kind = f"trained {self.steps} steps" if self.steps else "random"
        return f"strides {'x'.join(map(str, self.strides))} at {self.rate / 1000:g} kHz, {kind}, seed {self.seed}"


def _model(spec: DecoderSpec):
    import torch
    from torch import nn

    torch.manual_seed(spec.seed)
    ch = spec.channels
    enc: list = [nn.Conv1d(1, ch, 7, padding=3)]
    for s in reversed(spec.strides):
        enc += [nn.ELU(), nn.Conv1d(ch, ch, 2 * s, stride=s, padding=s // 2)]
    dec: list = []
    for s in spec.strides:
        dec += [nn.ELU(), nn.ConvTranspose1d(ch, ch, 2 * s, stride=s, padding=s // 2)]
    dec += [nn.ELU(), nn.Conv1d(ch, 1, 7, padding=3)]
    return nn.Sequential(*enc), nn.Sequential(*dec)


def through_decoder(samples: np.ndarray, sr: int, spec: DecoderSpec, out_rate: int | None = None) -> np.ndarray:
    """``samples`` (mono float32 at ``sr``) encoded and decoded by ``spec``'s autoencoder.

    The audio is resampled to ``spec.rate``, passed through, and resampled to
    ``out_rate`` (default ``sr``). The output's peak is normalised to 0.5.
    """
    import torch

    x = soxr.resample(np.asarray(samples, np.float32), sr, spec.rate).astype(np.float32)
    hop = int(np.prod(spec.strides))
    n = (x.shape[0] // hop) * hop
    if n < 4 * hop:
        raise ValueError("The audio is too short for this decoder.")
    enc, dec = _model(spec)
    xt = torch.from_numpy(x[:n].copy())[None, None]
    if spec.steps:
        params = list(enc.parameters()) + list(dec.parameters())
        opt = torch.optim.Adam(params, 3e-3)
        gen = torch.Generator().manual_seed(spec.seed)
        length = min(n, max(hop * 4, (spec.rate // 4) // hop * hop))
        for _ in range(spec.steps):
            starts = torch.randint(0, n - length + 1, (4,), generator=gen)
            batch = torch.stack([xt[0, 0, s:s + length] for s in starts])[:, None]
            loss = (dec(enc(torch.nn.functional.pad(batch, (0, 2 * hop))))[..., :length] - batch).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    block = max(hop, (spec.rate * 10) // hop * hop)

    def run(x):  # pad by two hops so odd kernel/stride pairs never come out short, then crop
        length = x.shape[-1]
        return dec(enc(torch.nn.functional.pad(x, (0, 2 * hop))))[..., :length]

    with torch.no_grad():
        out = torch.cat([run(xt[..., i:i + block]) for i in range(0, n, block)], -1)
    y = out[0, 0].numpy().astype(np.float32)
    y = soxr.resample(y, spec.rate, out_rate or sr).astype(np.float32)
    return (0.5 * y / (np.max(np.abs(y)) + 1e-9)).astype(np.float32)


__all__ = ["DecoderSpec", "through_decoder"]
