"""The fast HTSAT pass (``detector.layers.clap.htsat``) against laion-clap's own forward and helpers,
and the encoder's batching over worker threads."""

from __future__ import annotations

import copy
import importlib.util
import sys
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if importlib.util.find_spec("laion_clap") is None:  # never `import laion_clap`: its __init__ needs the network
    pytest.skip("laion-clap is not installed", allow_module_level=True)

from detector.layers import clap
from detector.layers.clap import htsat, laion  # noqa: E402

from conftest import music  # noqa: E402

pytestmark = pytest.mark.slow  # laion-clap's forward on generated checkpoints

PACKINGS = [False] + ([True] if htsat.onednn_linear_ok() else [])


@pytest.fixture(scope="module")
def laion_htsat():
    """laion-clap's ``clap_module/htsat.py`` (imported with the model, without the network)."""
    laion.laion_model_module()
    return sys.modules["laion_clap.clap_module.htsat"]


@pytest.fixture(scope="module")
def waves() -> torch.Tensor:
    """Three windows: two full ones and a repeat-padded 4 s tail."""
    return torch.from_numpy(clap.windows(music(24.0)))


def _cosines(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    a, b = a.double(), b.double()
    return ((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))).numpy()


@pytest.mark.parametrize("height,width,size,shift", [(64, 64, 8, 0), (64, 64, 8, 4), (16, 16, 8, 4), (8, 8, 8, 0)])
def test_windowed_order_is_laions_roll_then_partition(laion_htsat, height, width, size, shift):
    x = torch.arange(height * width * 3, dtype=torch.float32).view(1, height, width, 3)
    shifted = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2)) if shift else x
    expected = laion_htsat.window_partition(shifted, size).reshape(-1, 3)
    assert torch.equal(x.view(-1, 3)[htsat.windowed_order(height, width, size, shift)], expected)


def test_merge_order_makes_patch_merging_a_reshape(encoder):
    merging = encoder.modules["audio_branch"].layers[0].downsample
    height, width = merging.input_resolution
    x = torch.randn(2, height * width, merging.dim, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ours = htsat.PatchMerge(merging, htsat.merge_order(height, width), packed=False)(x)
        assert torch.equal(ours, merging(x))


@pytest.mark.parametrize("packed", PACKINGS)
def test_fast_pass_equals_laion_clap_forward(encoder, waves, packed):
    branch, projection = encoder.modules["audio_branch"], encoder.modules["audio_projection"]
    fast = htsat.FastHTSAT(branch, projection, packed=packed)
    with torch.inference_mode():
        ours, laion = fast.hidden(waves), branch({"waveform": waves}, device=waves.device)["embedding"]
        torch.testing.assert_close(ours, laion, rtol=1e-4, atol=1e-5)
        cos = _cosines(fast(waves), htsat.reference_embeddings(branch, projection, waves))
    assert cos.min() > 1 - 1e-6


def test_fft_stft_equals_laions_conv_stft(encoder, waves):
    stft = encoder.modules["audio_branch"].spectrogram_extractor
    fast = encoder.fast
    assert fast is not None and fast.window is not None
    with torch.inference_mode():
        ours, laion = fast.spectrogram(waves), stft(waves)
    assert ours.shape == laion.shape == (3, 1, 1001, 513)
    torch.testing.assert_close(ours, laion, rtol=1e-3, atol=1e-6 * float(laion.max()))


def test_altered_stft_kernels_keep_laions_conv(encoder, waves):
    branch = copy.deepcopy(encoder.modules["audio_branch"])
    with torch.no_grad():
        branch.spectrogram_extractor.stft.conv_real.weight[5, 0, 7] += 1e-3
    assert htsat.stft_window(branch.spectrogram_extractor.stft) is None
    fast = htsat.FastHTSAT(branch, encoder.modules["audio_projection"])
    assert fast.window is None
    with torch.inference_mode():
        cos = _cosines(fast(waves), htsat.reference_embeddings(branch, encoder.modules["audio_projection"], waves))
    assert cos.min() > 1 - 1e-6


def test_encoder_runs_the_fast_pass_and_says_so(encoder):
    assert isinstance(encoder.fast, htsat.FastHTSAT)
    assert encoder.note.startswith("fast path (FFT STFT") and "cosine to laion-clap's forward" in encoder.note


def test_a_fast_pass_that_disagrees_is_not_used(tiny_ckpt, waves, monkeypatch):
    real_call = htsat.FastHTSAT.__call__
    monkeypatch.setattr(htsat.FastHTSAT, "__call__", lambda self, w: real_call(self, w).flip(-1))
    enc = clap.load_encoder(tiny_ckpt)
    assert enc.fast is None and "disagreed" in enc.note and enc.note.startswith("laion-clap's own forward")
    branch, projection = enc.modules["audio_branch"], enc.modules["audio_projection"]
    with torch.inference_mode():
        expected = htsat.reference_embeddings(branch, projection, waves).numpy()
    np.testing.assert_allclose(enc.embed_windows(waves.numpy()), expected, atol=1e-6)


@pytest.mark.parametrize("threads,batch_size", [(1, 4), (2, 4), (2, 1), (3, 2)])
def test_batches_are_contiguous_balanced_and_shared_evenly(threads, batch_size):
    enc = clap.ClapEncoder(None, "x.pt", "0" * 64, "HTSAT-tiny", batch_size=batch_size, threads=threads)
    for n in range(1, 41):
        spans = enc.batches(n)
        assert spans[0][0] == 0 and spans[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
        sizes = [b - a for a, b in spans]
        assert max(sizes) <= batch_size and max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
        assert len(spans) % min(threads, n) == 0 or len(spans) == n


def test_workers_are_deterministic_and_report_progress_on_the_calling_thread(tiny_ckpt, encoder):
    enc = clap.load_encoder(tiny_ckpt, threads=2, batch_size=2)
    x = clap.windows(music(61.0))  # 7 windows -> 4 batches on 2 workers
    calls = []
    threads_before = torch.get_num_threads()
    first = enc.embed_windows(x, progress=lambda fraction, message: calls.append((fraction, message,
                                                                                  threading.get_ident())))
    assert torch.get_num_threads() == threads_before
    done = sorted(int(c[1].split("(")[1].split("/")[0]) for c in calls)
    assert [c[:2] for c in calls] == [(d / 7, f"CLAP embeddings ({d}/7 windows)") for d in done] and done[-1] == 7
    assert len(calls) == 4 and {c[2] for c in calls} == {threading.get_ident()}
    assert np.array_equal(first, enc.embed_windows(x))
    assert enc.embed_windows(x[:0]).shape == (0, clap.EMBED_DIM)  # no windows: nothing to run, no error
    # one worker and other batches: the same embeddings up to float32 rounding
    assert _cosines(torch.from_numpy(first), torch.from_numpy(encoder.embed_windows(x))).min() > 1 - 1e-6


def test_a_failing_progress_callback_stops_cleanly(tiny_ckpt):
    enc = clap.load_encoder(tiny_ckpt, threads=2, batch_size=1)
    x = clap.windows(music(40.0))
    threads_before = torch.get_num_threads()

    def stop(fraction, message):
        raise KeyboardInterrupt("the user left the page")

    with pytest.raises(KeyboardInterrupt):
        enc.embed_windows(x, progress=stop)
    assert torch.get_num_threads() == threads_before
    assert enc._lock.acquire(blocking=False)
    enc._lock.release()
    assert enc.embed_windows(x[:1]).shape == (1, clap.EMBED_DIM)
