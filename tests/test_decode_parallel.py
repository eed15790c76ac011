"""Decoding on two cores (detector.audio.parallel) gives a serial decode's samples, or falls back to one."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import soundfile as sf

from detector.audio import decode_rates
from detector.audio import parallel
from detector.synthetic import encode, song

DECODE = sys.modules["detector.audio.decode"]
SR = 44100


@pytest.fixture(scope="module")
def stereo() -> np.ndarray:
    return song(14.0, SR, seed=3, stereo=True)


class Calls(list):
    """The parallel decodes tried (their arguments), and the reasons of those that fell back to serial."""

    refused: list[str]


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of two blocks, so that a 14 s track is cut into several (a real one needs over a minute)."""
    monkeypatch.setattr(parallel, "CHUNK_BLOCKS", 2)
    calls = Calls()
    calls.refused = []
    real = DECODE.parallel_blocks

    def spy(*args, **kwargs):
        calls.append(args)
        try:
            yield from real(*args, **kwargs)
        except parallel.NotParallel as exc:
            calls.refused.append(str(exc))
            raise

    monkeypatch.setattr(DECODE, "parallel_blocks", spy)
    return calls


def _serial(data, rates, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(DECODE, "eligible", lambda *args: False)
        return decode_rates(data, rates)


@pytest.mark.parametrize("codec", ["MP3", "VORBIS", "FLAC", "OPUS"])
def test_parallel_decoding_equals_serial_sample_for_sample(codec, stereo, small_chunks, monkeypatch):
    data = encode(stereo, SR, codec) if codec != "OPUS" else encode(song(14.0, 48000, seed=3, stereo=True), 48000, codec)
    rates = (22050, None, 48000)
    fast = decode_rates(data, rates)
    assert small_chunks and not small_chunks.refused, "the parallel path did not run through"
    for a, b in zip(fast, _serial(data, rates, monkeypatch)):
        assert a.sample_rate == b.sample_rate and a.warnings == b.warnings == ()
        assert a.samples.dtype == np.float32 and np.array_equal(a.samples, b.samples)


def test_a_path_is_decoded_in_parallel_too(stereo, small_chunks, tmp_path, monkeypatch):
    path = tmp_path / "t.mp3"
    path.write_bytes(encode(stereo, SR, "MP3"))
    fast = decode_rates(path, (22050,))[0]
    assert small_chunks and np.array_equal(fast.samples, _serial(path, (22050,), monkeypatch)[0].samples)


@pytest.mark.parametrize("codec", ["VORBIS", "OPUS"])
def test_damaged_file_falls_back_to_the_serial_decode_and_its_warning(codec, stereo, small_chunks, monkeypatch):
    sr = SR if codec == "VORBIS" else 48000
    data = bytearray(encode(stereo if codec == "VORBIS" else song(14.0, sr, seed=3, stereo=True), sr, codec))
    mid = len(data) // 2
    data[mid:mid + 4000] = bytes(4000)  # an Ogg page lost in the middle
    fast = decode_rates(bytes(data), (22050,))[0]
    slow = _serial(bytes(data), (22050,), monkeypatch)[0]
    assert bool(small_chunks) == (codec == "VORBIS")  # Opus: its broken page framing is refused before any chunk
    assert fast.warnings == slow.warnings and fast.warnings, "the damage warning must survive"
    assert np.array_equal(fast.samples, slow.samples)


def test_chunks_that_do_not_join_are_refused(stereo, monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK_BLOCKS", 2)
    real, other = encode(stereo, SR, "FLAC"), encode(stereo[::-1].copy(), SR, "FLAC")
    opened = []

    def open_at(frame):  # the first chunk from the real file, every later one from another file of the same shape
        opened.append(1)
        return io.BytesIO(real if len(opened) == 1 else other), 0

    with sf.SoundFile(io.BytesIO(real)) as snd, pytest.raises(parallel.NotParallel, match="sample for sample"):
        for _ in parallel.parallel_blocks(snd, open_at, 1 << 16, 10**9):
            pass


def test_an_opus_stream_restarted_at_a_page_decodes_to_the_same_samples():
    """The restart (header pages renumbered, pre-skip 0, the file's pages from there) is a valid Ogg Opus stream
    whose samples are the whole file's from its first one on, bit for bit once libopus has converged."""
    from detector.audio.ogg import PREROLL_SECONDS, OpusPages

    data = encode(song(20.0, 48000, seed=4, stereo=True), 48000, "OPUS")
    whole = sf.read(io.BytesIO(data), dtype="float32")[0]
    pages = OpusPages.parse(data)
    assert pages is not None and len(pages.header_pages) == 2 and pages.preskip > 0
    stream, origin = pages.restart(12 * 48000)
    assert 0 < origin <= 12 * 48000 - PREROLL_SECONDS * 48000
    with sf.SoundFile(io.BytesIO(stream)) as snd:
        part = snd.read(dtype="float32")
        assert "hole" not in snd.extra_info.lower()  # the page sequence runs on unbroken
    assert len(part) == len(whole) - origin  # to the last sample
    assert np.array_equal(part[48000:], whole[origin + 48000:])  # converged within a second
    assert pages.restart(PREROLL_SECONDS * 48000 - 1) == (data, 0)  # nothing that early: the file itself
    assert OpusPages.parse(encode(song(3.0, SR), SR, "VORBIS")) is None
    assert OpusPages.parse(data[: len(data) // 2 + 7]) is None  # a cut page: decoded serially
    assert OpusPages.parse(data + data) is None  # chained: the serial decode plays only the first stream


def test_opus_that_cannot_restart_exactly_is_decoded_serially(tmp_path):
    """Opus at a rate other than 48 kHz (granules count 48 kHz samples, libsndfile decodes at the file's rate),
    and a file gone since it was opened: no parallel attempt, no error."""
    at16 = encode(song(80.0, 16000, seed=1), 16000, "OPUS")
    with sf.SoundFile(io.BytesIO(at16)) as snd:
        assert snd.samplerate == 16000 and parallel.opener(at16, io.BytesIO(at16), snd) is None
    path = tmp_path / "gone.opus"
    path.write_bytes(encode(song(3.0, 48000), 48000, "OPUS"))
    with open(path, "rb") as fh, sf.SoundFile(fh) as snd:
        path.unlink()
        assert parallel.opener(str(path), fh, snd) is None


def test_short_files_are_decoded_serially(stereo):
    with sf.SoundFile(io.BytesIO(encode(stereo, SR, "MP3"))) as snd:
        assert not parallel.eligible(snd, 1 << 16)  # 14 s: under two chunks of the default size
        assert parallel.eligible(snd, 1 << 12)


def test_a_header_promising_more_than_the_file_holds_decodes_serially(stereo, small_chunks, monkeypatch):
    data = encode(stereo, SR, "FLAC")
    cut = data[: len(data) * 2 // 5]  # FLAC's header still promises every frame
    fast = decode_rates(cut, (22050,))[0]
    slow = _serial(cut, (22050,), monkeypatch)[0]
    assert small_chunks, "the parallel path was not tried"
    assert fast.warnings == slow.warnings and fast.warnings
    assert np.array_equal(fast.samples, slow.samples)


def test_one_cpu_thread_decodes_and_transforms_serially_to_the_same_features(stereo, small_chunks, monkeypatch):
    """A scan worker (Ray sets OMP_NUM_THREADS to its one CPU) uses one thread; the features are the same."""
    from detector.config import cpu_threads
    from detector.features.spectral import spectral_frames

    data = encode(stereo, SR, "MP3")
    two = decode_rates(data, (22050,))[0]
    assert small_chunks  # decoded in parallel
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cpu_threads() == 1
    with sf.SoundFile(io.BytesIO(data)) as snd:
        assert not parallel.eligible(snd, 1 << 12)
    calls = len(small_chunks)
    one = decode_rates(data, (22050,))[0]
    assert len(small_chunks) == calls and np.array_equal(one.samples, two.samples)
    serial = spectral_frames(one.samples).summary()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert spectral_frames(two.samples).summary() == serial
