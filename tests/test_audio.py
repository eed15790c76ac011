import io
import os
import struct
import tempfile
import tracemalloc

import librosa
import numpy as np
import pytest
import soundfile as sf
from conftest import SR, CountingFile, encode, noise, tone

from detector.audio import AudioError, decode, sha256_of


@pytest.mark.parametrize(
    "fmt,subtype,sr,label",
    [
        ("WAV", "PCM_16", SR, "WAV"),
        ("WAV", "FLOAT", SR, "WAV"),
        ("FLAC", None, SR, "FLAC"),
        ("OGG", "VORBIS", SR, "OGG/Vorbis"),
        ("OGG", "OPUS", 48000, "OGG/Opus"),
        ("MP3", None, SR, "MP3"),
    ],
)
def test_every_supported_format_decodes_to_the_right_tone(fmt, subtype, sr, label):
    data = encode(tone(1000.0, 3.0, sr), sr, fmt, subtype)
    audio = decode(data, 22050)
    assert audio.format == label
    assert audio.sample_rate == 22050 and audio.source_rate == sr
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert abs(audio.duration - 3.0) < 0.1  # codecs may pad a few ms
    spectrum = np.abs(np.fft.rfft(audio.samples))
    peak_hz = np.argmax(spectrum) * 22050 / audio.samples.size
    assert abs(peak_hz - 1000.0) < 5.0


def test_path_bytes_and_file_object_give_identical_audio(tmp_path, wav_bytes):
    path = tmp_path / "t.wav"
    path.write_bytes(wav_bytes)
    a = decode(path)
    b = decode(wav_bytes)
    c = decode(io.BytesIO(wav_bytes))
    d = decode(str(path))
    for other in (b, c, d):
        assert np.array_equal(a.samples, other.samples)
        assert other.sha256 == a.sha256 == sha256_of(wav_bytes)


def test_matches_librosa_load_exactly(wav_bytes):
    """Same decoder, same soxr HQ resampler, same down-mix: librosa.load's samples."""
    stereo = np.stack([tone(440, 3.0), noise(3.0)], axis=1)
    data = encode(stereo)
    ours = decode(data, 22050).samples
    ref, _ = librosa.load(io.BytesIO(data), sr=22050, mono=True)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_multichannel_is_averaged():
    left, right = tone(440, 2.0), np.zeros(int(2.0 * SR), np.float32)
    audio = decode(encode(np.stack([left, right, right, right], axis=1)), SR)
    assert audio.channels == 4
    np.testing.assert_allclose(audio.samples, left / 4, atol=1e-4)


def _expect(data, match, **kw):
    with pytest.raises(AudioError, match=match):
        decode(data, **kw)


def test_empty_file():
    _expect(b"", r"empty \(0 bytes\)")


def test_text_renamed_mp3(tmp_path):
    path = tmp_path / "song.mp3"
    path.write_text("This is a shopping list, not a song.\n" * 50)
    _expect(path, "not a readable audio file.*WAV, FLAC, OGG/Vorbis, Opus or MP3")


def test_unsupported_container_says_so():
    _expect(encode(tone(), fmt="AIFF"), "AIFF.*not supported.*WAV, FLAC, OGG/Vorbis, Opus or MP3")


def test_too_short():
    _expect(encode(tone(seconds=0.5)), r"too short: 0\.50 s; at least 1\.00 s")


def test_one_hour_file_is_refused_quickly_without_decoding(tmp_path):
    path = tmp_path / "hour.wav"
    with sf.SoundFile(path, "w", 8000, 1, "PCM_U8", format="WAV") as out:
        block = noise(seconds=60.0, sr=8000)
        for _ in range(60):
            out.write(block)
    tracemalloc.start()
    with CountingFile(path) as fh:
        _expect(fh, "too long: 60 min 00.0 s; the limit is 20 min 00.0 s")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert fh.bytes_read < 64 * 2**10  # the header, not the 29 MB of samples
    assert peak < 8 * 2**20  # never the whole file in memory


def test_over_a_custom_limit():
    _expect(encode(noise(seconds=40.0, sr=8000), 8000), r"too long: 40\.00 s; the limit is 30\.00 s", max_duration=30.0)


def test_silence():
    _expect(encode(np.zeros(3 * SR, np.float32)), "silent")


def test_nan_and_inf_samples():
    y = tone()
    y[1000] = np.nan
    _expect(encode(y, subtype="FLOAT"), "NaN or infinite")
    y = tone()
    y[5] = np.inf
    _expect(encode(y, subtype="FLOAT"), "NaN or infinite")


def test_missing_file_and_folder(tmp_path):
    _expect(tmp_path / "nope.wav", "File not found")
    _expect(tmp_path, "is a folder")


def test_wrong_parameters():
    _expect(b"x", "sample rate must be positive", sample_rate=0)
    _expect(b"x", "duration limits are inconsistent", min_duration=5, max_duration=2)


def test_header_claiming_more_data_than_present_warns_and_keeps_what_is_there():
    data = bytearray(encode(tone(seconds=3.0), SR, "WAV", "PCM_16"))
    claimed = 30 * SR * 2
    data[40:44] = struct.pack("<I", claimed)
    audio = decode(bytes(data), SR)
    assert abs(audio.duration - 3.0) < 0.01
    assert audio.warnings and "claims more audio than the file holds" in audio.warnings[0]


def test_truncated_flac_keeps_the_decodable_part_and_says_so():
    data = encode(noise(seconds=5.0), fmt="FLAC")
    audio = decode(data[: len(data) // 2])
    assert 1.0 <= audio.duration < 2.6
    assert audio.warnings and "damaged after" in audio.warnings[0]


def test_flac_cut_inside_its_first_block_is_corrupt():
    data = encode(noise(seconds=5.0), fmt="FLAC")
    _expect(data[: len(data) // 8], "corrupt and could not be decoded.*lost sync")


def test_no_temp_files_are_written(wav_bytes):
    before = set(os.listdir(tempfile.gettempdir()))
    decode(wav_bytes)
    decode(encode(tone(seconds=2.0), fmt="MP3"))  # MP3 blocks are read with stderr tapped into an anonymous file
    with pytest.raises(AudioError):
        decode(b"garbage" * 100)
    assert set(os.listdir(tempfile.gettempdir())) == before


def test_unknown_source_type():
    _expect(12345, "Cannot read audio from a int")


def test_truncated_mp3_warns_about_missing_audio():
    data = encode(noise(seconds=5.0), fmt="MP3")
    audio = decode(data[: len(data) // 2])
    assert audio.duration < 4.0
    assert any("header promises" in w or "damaged" in w for w in audio.warnings)


def test_decoding_reports_progress_block_by_block():
    # The case, an Opus file, shorter: 20 s at 48 kHz is 15 blocks of 65,536 frames.
    data = encode(tone(440.0, 20.0, 48000) + noise(20.0, 48000, amp=0.05), 48000, "OGG", "OPUS")
    calls = []
    audio = decode(data, progress=lambda fraction, message: calls.append((fraction, message)))
    fractions = [f for f, _ in calls]
    assert len(fractions) >= 10 and {m for _, m in calls} == {"Decoding"}
    assert all(0.0 <= f <= 1.0 for f in fractions) and fractions == sorted(set(fractions))  # strictly increasing
    assert fractions[0] < 0.1 and fractions[-1] == 1.0
    assert abs(audio.duration - 20.0) < 0.1


def _damaged(data: bytes, n: int, seed: int = 0) -> bytes:
    """``data`` with ``n`` random bytes written over its middle (the header stays intact)."""
    out = bytearray(data)
    mid = len(out) // 2
    out[mid:mid + n] = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
    return bytes(out)


SKIPPED = "The decoder skipped damaged data in this file (about "


def test_an_mp3_with_damaged_frames_says_so_and_keeps_the_rest():
    clean = encode(tone(440.0, 20.0) + noise(20.0, amp=0.05), fmt="MP3")
    assert decode(clean).warnings == ()
    audio = decode(_damaged(clean, 300))  # mpg123 resyncs past it, reporting only on stderr
    assert abs(audio.duration - 20.0) < 0.2
    assert len(audio.warnings) == 1 and audio.warnings[0].startswith(SKIPPED)
    assert audio.warnings[0].endswith(" s); the analysis covers what could be decoded.")


@pytest.mark.parametrize("subtype,sr", [("VORBIS", SR), ("OPUS", 48000)])
def test_an_ogg_with_a_damaged_page_says_so(subtype, sr):
    clean = encode(tone(440.0, 10.0, sr) + noise(10.0, sr, amp=0.05), sr, "OGG", subtype)
    assert decode(clean).warnings == ()
    audio = decode(_damaged(clean, 50))  # libsndfile logs the page it skipped
    assert len(audio.warnings) == 1 and audio.warnings[0].startswith(SKIPPED)


def test_concurrent_mp3_decodes_keep_their_own_damage():
    from concurrent.futures import ThreadPoolExecutor

    clean = encode(tone(440.0, 10.0) + noise(10.0, amp=0.05), fmt="MP3")
    damaged = _damaged(clean, 300)
    jobs = [clean, damaged] * 4
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(decode, jobs))
    assert [bool(a.warnings) for a in results] == [False, True] * 4


def test_the_stderr_tap_passes_everything_on(capfd):
    from detector.audio.damage import StderrTap, damage_in

    tap = StderrTap()
    with tap:
        os.write(2, b"Note: Skipped 418 bytes in input.\nsomething else a thread logged\n")
    os.write(2, b"after the tap\n")
    assert tap.lines == ["Note: Skipped 418 bytes in input.", "something else a thread logged"]
    assert damage_in(tap.lines) == (1, 418)
    err = capfd.readouterr().err
    assert "something else a thread logged" in err and "after the tap" in err  # nothing lost
