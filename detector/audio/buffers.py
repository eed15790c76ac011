"""Array helpers of the decoder: a down-mix that beats ``mean(axis=1)``, and an array that fills in place."""

from __future__ import annotations

import numpy as np


def downmix(block: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames, channels) block; a column loop beats ``mean(axis=1)``."""
    mono = block[:, 0].copy()
    with np.errstate(over="ignore"):  # absurd float samples overflow to inf, which decode() then refuses
        for ch in range(1, block.shape[1]):
            mono += block[:, ch]
    if block.shape[1] > 1:
        mono /= np.float32(block.shape[1])
    return mono


class GrowingArray:
    """A float32 array filled from the front, grown (doubled) only when full."""

    def __init__(self, capacity: int) -> None:
        self.buf, self.n = np.empty(max(capacity, 1), np.float32), 0

    def append(self, x: np.ndarray) -> None:
        if self.n + x.size > self.buf.size:
            grown = np.empty(max(2 * self.buf.size, self.n + x.size), np.float32)
            grown[:self.n] = self.buf[:self.n]
            self.buf = grown
        self.buf[self.n:self.n + x.size] = x
        self.n += x.size

    def array(self) -> np.ndarray:
        """The samples so far; copied when they fill under 90 % of the buffer (a header that over-stated them)."""
        return self.buf[:self.n] if self.n >= 0.9 * self.buf.size else self.buf[:self.n].copy()


__all__ = ["GrowingArray", "downmix"]
