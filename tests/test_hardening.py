"""Hostile input, concurrent users, crash safety, fuzzing and resource bounds (issue 6).

The bad-input matrix lives in ``hostile.py``; each case runs once through the library and
once through the dashboard's Analyse page.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import sqlite3
import struct
import tempfile
import tomllib
import tracemalloc
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, CountingBytes, CountingFile, chirp, clicks, encode, noise, tone
from hostile import CASES, HOUR, wav_header
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from detector import AudioError, DetectionReport, Thresholds, analyze
from detector.audio import DEFAULT_MAX_DURATION
from detector.jobs import analyze_batch
from detector.analysis import profile_id
from detector.history import HistoryStore

PROJECT = Path(__file__).resolve().parent.parent
DEFAULTS = Thresholds()


def assert_sound_report(report: DetectionReport, thresholds: Thresholds = DEFAULTS) -> None:
    """A usable report: a finite score inside [floor, ceiling] and nothing NaN anywhere."""
    assert math.isfinite(report.score), f"score is {report.score}"
    assert thresholds.floor <= report.score <= thresholds.ceiling, f"score {report.score} outside the clip range"
    assert math.isfinite(report.duration) and report.duration > 0
    for layer in report.layers.values():
        bad = {k: v for k, v in layer.features.items() if not math.isfinite(v)}
        assert not bad, f"{layer.name} features not finite: {bad}"
        assert math.isfinite(layer.score)
    for segment in report.segments:
        assert math.isfinite(segment.score), f"segment {segment.index} score is {segment.score}"
        assert all(math.isfinite(v) for v in segment.features.values()), f"segment {segment.index}: {segment.features}"


def without_timings(report: DetectionReport) -> str:
    """The report's JSON without the wall-clock timings, which differ from run to run."""
    data = report.to_dict()
    data.pop("timings")
    return json.dumps(data, sort_keys=True)


# -- 1. the bad-input matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_library_tells_the_user_what_is_wrong(case):
    data = case.build()
    if case.error:
        with pytest.raises(AudioError) as err:
            analyze(data, name=case.filename)
        message = str(err.value)
        assert case.error in message
        assert "Traceback" not in message and 'File "' not in message
        return
    report = analyze(data, name=case.filename)
    assert_sound_report(report)
    assert report.duration == pytest.approx(case.duration, abs=case.tolerance)
    if case.warning:
        assert any(case.warning in w for w in report.warnings), report.warnings
    else:
        assert report.warnings == ()


HOUR_CASE = next(c for c in CASES if c.id == "one-hour")


@pytest.mark.parametrize("kind", ["8 kHz mono 8-bit, in memory", "44.1 kHz stereo 16-bit, 606 MiB sparse file"])
def test_an_hour_is_refused_from_its_header_fast_and_small(kind, tmp_path):
    if kind.startswith("8 kHz"):
        source = HOUR_CASE.build()
    else:  # a CD-quality hour; the sparse file takes no disk space and is never read
        source = tmp_path / "hour.wav"
        frames = HOUR * 44100
        with open(source, "wb") as fh:
            fh.write(wav_header(44100, 2, 16, frames))
            fh.truncate(44 + frames * 4)
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    source = CountingBytes(source) if isinstance(source, bytes) else CountingFile(source)
    tracemalloc.start()
    with source, pytest.raises(AudioError, match=HOUR_CASE.error):
        analyze(source)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert source.bytes_read < 64 * 2**10 < size, \
        f"read {source.bytes_read:,} of {size:,} bytes: the file was read, not just its header"
    assert peak < 1 * 2**20, f"peak {peak / 2**20:.1f} MiB: audio was decoded"


def _dashboard():
    return AppTest.from_file("../dashboard.py", default_timeout=60).run()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_dashboard_tells_the_user_what_is_wrong(case):
    at = _dashboard()
    at.file_uploader[0].upload(case.filename, case.build(), case.mime).run()
    assert not at.exception, f"the page crashed: {at.exception}"
    errors = [e.value for e in at.error]
    for text in errors + [w.value for w in at.warning]:
        assert "Traceback" not in text and 'File "' not in text, f"a stack trace reached the user: {text}"
    if case.error:
        assert len(errors) == 1 and case.filename in errors[0] and case.error in errors[0], errors
        assert not at.metric, "a bad file must never get a score"
        return
    assert not errors, errors
    score = at.metric[0]
    assert score.label in ("Rule score (not a probability)", "P(AI) from the classifier")
    assert DEFAULTS.floor <= float(score.value) <= DEFAULTS.ceiling
    assert any(f"{case.duration:.1f} s" in c.value for c in at.caption), "the duration is shown"
    warnings = [w.value for w in at.warning]
    if case.warning:
        assert any(case.warning in w for w in warnings), warnings
    else:
        assert not warnings, warnings



def test_the_batch_page_takes_the_whole_matrix_at_once():
    """All hostile files in one batch: each bad one named with its reason, each good one in the history."""
    at = _dashboard()
    at.switch_page("pages/history.py").run()
    files = at.file_uploader(key="batch:files")
    for case in CASES:
        files.upload(case.filename, case.build(), case.mime)
    at.run()
    at.button[0].click().run()
    assert not at.exception, f"the page crashed: {at.exception}"
    errors = [e.value for e in at.error]
    assert not any("Traceback" in e or 'File "' in e for e in errors)
    for case in (c for c in CASES if c.error):
        assert any(case.filename in e and case.error in e for e in errors), f"{case.id}: {errors}"
    accepted = sorted(c.filename for c in CASES if not c.error)
    assert len(errors) == len(CASES) - len(accepted)
    assert sorted(at.dataframe[0].value["source_name"]) == accepted

# -- 2. fuzzing the decode -> features -> score path -----------------------------------------------------------

def analyze_or_refuse(data: bytes) -> None:
    """The only permitted outcomes: a sound report, or AudioError with a message. Anything else fails."""
    try:
        report = analyze(data, name="fuzz")
    except AudioError as exc:
        assert str(exc).strip(), "an AudioError without a message"
        return
    assert_sound_report(report)


_FMT = struct.pack("<IHHIIHH", 16, 1, 2, 44100, 44100 * 4, 4, 16)
PREFIXES = [
    b"",
    b"RIFF\xff\xff\xff\x7fWAVE",
    b"RIFF\x24\x00\x10\x00WAVEfmt " + _FMT + b"data\x00\x00\x10\x00",  # a valid header, then anything
    b"fLaC",
    b"fLaC\x00\x00\x00\x22" + bytes([0x10, 0x00, 0x10, 0x00]),  # STREAMINFO block start
    b"OggS\x00\x02",
    b"ID3\x04\x00\x00\x00\x00\x00\x00",
    b"\xff\xfb\x90\x64",  # an MPEG-1 layer III frame header
]
# 60 fixed examples per property in the suite (a few seconds); FUZZ_EXAMPLES=3000 explores new ones, untimed.
_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
FUZZ_TIMEOUT = 0 if _EXAMPLES else 120  # pytest-timeout: 0 is no limit
FUZZ = settings(max_examples=_EXAMPLES or 60, deadline=None, derandomize=not _EXAMPLES, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.timeout(FUZZ_TIMEOUT)
@FUZZ
@pytest.mark.slow
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=8192))
def test_fuzz_random_bytes_are_refused_or_analysed(prefix, body):
    analyze_or_refuse(prefix + body)


RATES = [8000, 11025, 22050, 44100, 48000, 96000]
SUBTYPES = ["PCM_16", "PCM_24", "FLOAT", "PCM_U8"]
EXTREMES = [1.0, -1.0, 0.0, 1e-30, -1e-30, 2.0, -2.0, 1e30, -1e30, 3.4e38, -3.4e38]


def synthesize(rate, channels, subtype, seconds, kind, amp, seed, spikes) -> bytes:
    """A WAV (or FLAC, for 16/24-bit) file of ``seconds`` x ``channels`` of ``kind`` at ``amp``, with ``spikes``.

    ``spikes`` are ``(position 0..1, channel, value)``: extreme sample values dropped into the signal.
    """
    rng = np.random.default_rng(seed)
    frames = int(seconds * rate)
    t = np.arange(frames)[:, None] / rate
    if kind == "noise":
        y = rng.standard_normal((frames, channels))
    elif kind == "tone":
        y = np.sin(2 * np.pi * rng.uniform(20, rate / 2, channels) * t)
    elif kind == "constant":
        y = np.ones((frames, channels))
    elif kind == "clicks":
        y = (rng.random((frames, channels)) < 0.001).astype(float)
    else:  # square
        y = np.sign(np.sin(2 * np.pi * 50 * t)) * np.ones(channels)
    y = (amp * y).astype(np.float32)
    for position, channel, value in spikes:
        if frames:
            y[int(position * (frames - 1)), channel % channels] = value
    container = "FLAC" if subtype in ("PCM_16", "PCM_24") and seed % 2 else "WAV"
    buf = io.BytesIO()
    sf.write(buf, y, rate, format=container, subtype=subtype)  # PCM subtypes clip what is beyond full scale
    return buf.getvalue()


audio_params = st.fixed_dictionaries({
    "rate": st.sampled_from(RATES),
    "channels": st.integers(1, 4),
    "subtype": st.sampled_from(SUBTYPES),
    "seconds": st.floats(0.0, 5.0),
    "kind": st.sampled_from(["noise", "tone", "constant", "clicks", "square"]),
    "amp": st.sampled_from([0.0, 1e-6, 1e-3, 0.5, 1.0, 10.0]),
    "seed": st.integers(0, 2**16),
    "spikes": st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 3), st.sampled_from(EXTREMES)), max_size=8),
})


@pytest.mark.timeout(FUZZ_TIMEOUT)
@FUZZ
@pytest.mark.slow
@given(params=audio_params)
def test_fuzz_valid_audio_of_any_shape_is_refused_or_analysed(params):
    analyze_or_refuse(synthesize(**params))


# -- 3. concurrent users -------------------------------------------------------------------------------------

THREADS = 8


def eight_tracks() -> list[tuple[str, bytes]]:
    """Eight different tracks in five formats and four rates, so the threads share no input."""
    return [
        ("tone.wav", encode(tone(440.0, 4.0) + noise(4.0, amp=0.05, seed=1))),
        ("noise.flac", encode(noise(4.0, seed=2), fmt="FLAC")),
        ("chirp.ogg", encode(chirp(4.0), fmt="OGG", subtype="VORBIS")),
        ("clicks.mp3", encode(clicks(4.0) + noise(4.0, amp=0.02, seed=3), fmt="MP3")),
        ("low.wav", encode(tone(110.0, 4.0, 22050) + noise(4.0, 22050, 0.1, seed=4), 22050)),
        ("opus.opus", encode(tone(660.0, 4.0, 48000) + noise(4.0, 48000, 0.05, seed=5), 48000, "OGG", "OPUS")),
        ("stereo.wav", encode(np.stack([tone(330.0, 4.0), noise(4.0, seed=6)], axis=1), subtype="PCM_24")),
        ("hires.flac", encode(chirp(4.0, 96000) + noise(4.0, 96000, 0.05, seed=7), 96000, "FLAC")),
    ]


def run_concurrently(fn, items, workers: int = THREADS, timeout: float = 120.0) -> list:
    """``fn(*item)`` for every item on ``workers`` threads at once, results in order; a hang fails, never blocks."""
    pool = ThreadPoolExecutor(workers)
    futures = [pool.submit(fn, *item) for item in items]
    done, pending = wait(futures, timeout=timeout)
    pool.shutdown(wait=not pending, cancel_futures=True)
    assert not pending, f"{len(pending)} of {len(futures)} calls still running after {timeout} s: deadlock?"
    return [f.result() for f in futures]


def analyze_concurrently(tracks, workers: int = THREADS, **analyze_kwargs) -> list[DetectionReport]:
    """``analyze`` every ``(name, data)`` on ``workers`` threads through the same service objects.

    ``analyze_kwargs`` go to every call, e.g. ``clap=shared_encoder`` to share one model between the threads.
    """
    return run_concurrently(lambda name, data: analyze(data, name=name, **analyze_kwargs), tracks, workers)


@pytest.mark.timeout(180)
def test_eight_threads_give_the_single_threaded_reports():
    tracks = eight_tracks()
    alone = [analyze(data, name=name) for name, data in tracks]
    together = analyze_concurrently(tracks)
    assert len({r.sha256 for r in together}) == THREADS
    for name, one, many in zip([n for n, _ in tracks], alone, together):
        assert many.source_name == name  # no cross-talk: each thread got its own track back
        assert without_timings(many) == without_timings(one), f"{name} differs when analysed concurrently"


@pytest.mark.timeout(180)
def test_eight_threads_share_one_history(tmp_path):
    store = HistoryStore(tmp_path / "shared.sqlite3")
    profile = profile_id(DEFAULTS)
    tracks = eight_tracks()

    def analyse_and_keep(name, data):
        report = analyze(data, name=name)
        row_id = store.put(report, profile)
        return report, row_id, store.get(report.sha256, profile), store.get_by_id(row_id)

    for (name, _), (report, row_id, by_key, by_id) in zip(tracks, run_concurrently(analyse_and_keep, tracks)):
        assert by_key == report == by_id, f"{name}: another thread's report came back"
    assert store.count() == THREADS and store.integrity_check() == "ok"
    assert sorted(r.source_name for r in store.rows()) == sorted(name for name, _ in tracks)


# -- 4. crash safety of the history ----------------------------------------------------------------------------
# Covered elsewhere: WAL mode and schema version (test_store.py::test_put_get_round_trip_and_wal), a v1 -> v2
# migration keeping rows (test_migrates_a_v1_database_keeping_its_rows), an atomic failed migration
# (test_a_failed_migration_changes_nothing), a newer schema refused (test_newer_schema_is_refused_clearly), and a
# SIGKILLed batch followed by PRAGMA integrity_check and a rerun (test_batch.py::test_killed_batch_leaves_a_sound_
# history_and_a_rerun_finishes_it). Missing was a check that *every* write runs inside an explicit transaction.

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP|PRAGMA\s+user_version\s*=)", re.I)


def test_every_history_write_runs_inside_a_transaction(tmp_path, monkeypatch):
    import detector.history.store as store_module

    statements: list[tuple[str, bool]] = []
    connect = sqlite3.connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(lambda sql: statements.append((sql, conn.in_transaction)))
        return conn

    monkeypatch.setattr(store_module.sqlite3, "connect", traced)
    report = analyze(encode(tone(seconds=2.0)), name="t.wav")
    store = HistoryStore(tmp_path / "h.sqlite3")  # creates the schema (migrations 0 -> 2)
    row_id = store.put(report, "p" * 16)
    store.put(report, "p" * 16)  # the upsert path
    store.delete(row_id)
    writes = [(sql, inside) for sql, inside in statements if WRITES.match(sql)]
    kinds = {sql.split()[0].upper() for sql, _ in writes}
    assert {"CREATE", "ALTER", "UPDATE", "INSERT", "DELETE", "PRAGMA"} <= kinds, f"not every write was seen: {kinds}"
    outside = [sql for sql, inside in writes if not inside]
    assert not outside, f"writes outside a transaction (a crash could leave half of them): {outside}"
    begins = [sql for sql, _ in statements if sql.upper().startswith("BEGIN")]
    assert begins and all(sql.upper() == "BEGIN IMMEDIATE" for sql in begins), begins


# -- 5. resource bounds --------------------------------------------------------------------------------------

MIB = 1024 * 1024  # Streamlit's server.maxUploadSize is in MiB (it multiplies by 1024 * 1024)


def test_upload_limit_takes_a_full_length_track_and_not_much_more():
    config = tomllib.loads((PROJECT / ".streamlit" / "config.toml").read_text())
    limit_mib = config["server"]["maxUploadSize"]
    assert isinstance(limit_mib, int) and limit_mib > 0, "server.maxUploadSize must be set"
    # The largest common file of the decoder's longest track: 20 min of 16-bit stereo WAV at 48 kHz.
    # 1200 s x 48000 frames/s x 2 channels x 2 bytes + 44 header bytes = 230,400,044 B = 219.7 MiB.
    longest = int(DEFAULT_MAX_DURATION * 48000) * 2 * 2 + 44
    assert limit_mib * MIB >= longest, (
        f"a {DEFAULT_MAX_DURATION / 60:.0f}-min 48 kHz stereo WAV ({longest / MIB:.1f} MiB) is over the "
        f"{limit_mib} MiB upload limit")
    assert limit_mib * MIB <= 2 * longest, "the upload limit is far beyond anything the decoder would accept"
    caption = (PROJECT / "pages" / "analyse.py").read_text()
    assert f"up to {limit_mib} MB" in caption and f"{DEFAULT_MAX_DURATION / 60:.0f} min" in caption, \
        "the Analyse page states other limits than the ones enforced"


def test_the_theme_is_the_viewers_choice_and_the_menu_stays():
    config = tomllib.loads((PROJECT / ".streamlit" / "config.toml").read_text())
    # No pinned base: the app follows the system setting and the menu's Settings offer light and dark.
    assert "base" not in config.get("theme", {}), "the config pins one theme, so nobody can switch for a projector"
    # "viewer" keeps the menu with the theme switch but hides Deploy, Rerun and Clear cache; "minimal" hides the menu.
    assert config["client"]["toolbarMode"] == "viewer"


def test_caches_are_bounded():
    import pages._shared as shared

    assert 0 < shared.FEATURE_CACHE_SIZE <= 64, "the feature cache must be bounded"
    assert "LruCache(FEATURE_CACHE_SIZE, max_bytes=FEATURE_CACHE_BYTES)" in (PROJECT / "pages" / "_shared.py").read_text()
    assert 0 < shared.FEATURE_CACHE_BYTES <= 2**30, "the feature cache must be bounded in bytes"
    assert 0 < shared.MAX_SESSION_TRACKS <= 64
    source = (PROJECT / "pages" / "_shared.py").read_text()
    assert "while len(loaded) >= MAX_SESSION_TRACKS" in source, "session tracks are evicted at the bound"
    uncached = re.findall(r"@st\.cache_data\((?![^)]*max_entries)[^)]*\)", "".join(
        p.read_text() for p in [PROJECT / "dashboard.py", *sorted((PROJECT / "pages").glob("*.py"))]))
    assert not uncached, f"unbounded st.cache_data: {uncached}"


def test_no_temporary_files_are_left_behind(tmp_path, monkeypatch):
    """Every format, a failure, a batch and history writes: the temp folder is as it was."""
    private = tmp_path / "tmp"  # our own temp folder, so other processes on this machine can't disturb the count
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", None)  # forget the cached folder, so gettempdir() reads TMPDIR
    assert tempfile.gettempdir() == str(private)
    before = sorted(os.listdir(tempfile.gettempdir()))
    song = tone(440.0, 2.0) + noise(2.0, amp=0.05)
    files = [(f"t.{ext}", encode(song, SR, fmt, sub)) for ext, fmt, sub in
             [("wav", "WAV", "PCM_16"), ("flac", "FLAC", None), ("ogg", "OGG", "VORBIS"), ("mp3", "MP3", None)]]
    files.append(("t.opus", encode(tone(440.0, 2.0, 48000), 48000, "OGG", "OPUS")))
    for name, data in files:
        analyze(data, name=name)
    with pytest.raises(AudioError):
        analyze(b"ID3" + b"\0" * 500)
    store = HistoryStore(tmp_path / "h.sqlite3")
    result = analyze_batch(files + [("bad.mp3", b"nope")], store=store)
    assert result.analysed == len(files) and len(result.failures) == 1
    assert store.count() == len(files) and store.integrity_check() == "ok"
    assert sorted(os.listdir(tempfile.gettempdir())) == before


# -- 6. security ------------------------------------------------------------------------------------------------

UI_FILES = [PROJECT / "dashboard.py", *sorted((PROJECT / "pages").glob("*.py"))]


@pytest.mark.parametrize("path", UI_FILES, ids=[p.name for p in UI_FILES])
def test_no_page_renders_raw_html(path):
    """Streamlit escapes HTML unless told not to; nothing a user sends may reach the page as HTML or script."""
    source = path.read_text()
    found = re.findall(r"unsafe_allow_html\s*=\s*True|\bst\.html\(|components\.(?:v1\.)?html\(|\biframe\(", source)
    assert not found, f"{path.name} renders raw HTML: {found}"


def test_a_file_name_is_shown_as_typed_not_as_markup():
    name = "**loud**_[click](x)$e=mc^2$:red[hi].mp3"
    at = _dashboard()
    at.file_uploader[0].upload(name, b"not audio" * 20, "audio/mpeg").run()
    assert not at.exception
    assert r"\*\*loud\*\*\_\[click\](x)\$e=mc^2\$:red\[hi\].mp3" in at.error[0].value


MODEL_FILES = sorted((PROJECT / "detector").glob("*.py"))
UNSAFE_LOADS = re.compile(r"\b(?:pickle|cPickle|dill|joblib|cloudpickle)\.loads?\(|allow_pickle\s*=\s*True|"
                          r"\btorch\.load\((?![^\n]*weights_only\s*=\s*True)|\bsio\.load\((?![^\n]*trusted\s*=)|"
                          r"\bskops\.io\.load\((?![^\n]*trusted\s*=)|(?<![.\w])(?:eval|exec)\(")  # the call's line


@pytest.mark.parametrize("path", MODEL_FILES, ids=[p.name for p in MODEL_FILES])
def test_nothing_untrusted_is_unpickled_or_executed(path):
    """Model files, profiles and checkpoints are data: skops with trusted types, torch with weights_only=True."""
    found = UNSAFE_LOADS.findall(path.read_text())
    assert not found, f"{path.name} can run code from a file: {found}"


@pytest.fixture(scope="module")
def opus_file() -> bytes:
    from detector.synthetic import encode, song

    return encode(song(6.0, 48000, seed=2), 48000, "OPUS")


@pytest.mark.timeout(FUZZ_TIMEOUT)
@FUZZ
@pytest.mark.slow
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8), cut=st.floats(0.5, 1.0))
def test_fuzz_damaged_opus_framing_is_refused_or_restartable(opus_file, edits, cut):
    """The Ogg page reader of the two-core Opus decode (detector.audio.ogg) takes any bytes: it gives None
    (decode serially) or pages whose restarts are well-formed streams; it never raises."""
    from detector.audio.ogg import OpusPages

    data = bytearray(opus_file[: int(len(opus_file) * cut)])
    for where, value in edits:
        data[min(int(where * len(data)), len(data) - 1)] = value
    pages = OpusPages.parse(bytes(data))
    if pages is not None:
        stream, origin = pages.restart(5 * 48000)
        assert stream.startswith(b"OggS") and 0 <= origin < 5 * 48000
