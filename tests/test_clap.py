"""The LAION-CLAP layer, against checkpoints generated here in LAION's file layout.

No real weights can be downloaded here, so a session fixture writes a random HTSAT-tiny
checkpoint with :func:`detector.layers.clap.write_random_checkpoint` and everything loads it
through the same code path users use.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import threading
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if importlib.util.find_spec("laion_clap") is None:  # never `import laion_clap`: its __init__ needs the network
    pytest.skip("laion-clap is not installed", allow_module_level=True)

from detector.layers import clap  # noqa: E402
from detector.files import sha256_file  # noqa: E402
from detector.layers.clap import laion, registry  # noqa: E402
from detector.cli import main  # noqa: E402
from detector.report import DetectionReport  # noqa: E402
from detector.analysis import analyze, extract, score  # noqa: E402

from conftest import encode, music, noise, tone  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SR = clap.SAMPLE_RATE


@pytest.fixture(autouse=True)
def clean_state(tmp_path, monkeypatch):
    """An empty data dir, no $CLAP_CHECKPOINT, and no remembered CLAP failures."""
    monkeypatch.setenv("DETECTOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(clap.ENV_VAR, raising=False)
    monkeypatch.setattr(registry, "_last_error", None)
    monkeypatch.setattr(registry, "_failures", {})


@pytest.fixture(scope="session")
def tiny_raw(tiny_ckpt) -> dict:
    return torch.load(tiny_ckpt, map_location="cpu", weights_only=True)


# --------------------------------------------------------------------------- import cost


@pytest.mark.slow
def test_importing_detector_does_not_import_torch():
    code = ("import sys, detector, detector.analysis, detector.layers.clap, detector.cli, detector.jobs, "
            "detector.history, detector.training; "
            "print([m for m in ('torch', 'laion_clap', 'transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- windows


@pytest.mark.parametrize("seconds, count", [(25.0, 3), (10.0, 1), (10.5, 2), (0.5, 1), (30.0, 3)])
def test_window_count_covers_the_track(seconds, count):
    n = int(seconds * SR)
    w = clap.windows(np.full(n, 0.1, np.float32))
    bounds = clap.window_bounds(n)
    assert w.shape == (count, clap.WINDOW_SAMPLES)
    assert len(bounds) == count
    assert bounds[0][0] == 0.0 and bounds[-1][1] == pytest.approx(seconds)
    assert [a for a, _ in bounds[1:]] == [b for _, b in bounds[:-1]]  # contiguous, no overlap


def _laion_data_functions() -> dict:
    """``get_audio_features`` and the int16 helpers, compiled from the installed laion-clap source.

    ``laion_clap.training.data`` cannot be imported here: at module level it calls
    ``BertTokenizer/RobertaTokenizer/BartTokenizer.from_pretrained``, which needs the
    Hugging Face hub (offline it fails, or retries for 30+ s), and it imports
    ``clap_module`` through a ``sys.path`` hack of the package ``__init__``. So this takes
    the three functions' own source from that file, unchanged, and runs it.
    """
    spec_root = laion.laion_root()
    source = (spec_root / "training" / "data.py").read_text()
    wanted = {"get_audio_features", "int16_to_float32", "float32_to_int16"}
    nodes = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    assert {n.name for n in nodes} == wanted
    namespace = {"np": np, "torch": torch, "F": torch.nn.functional, "suppress": suppress}
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(spec_root / "training/data.py"), "exec"), namespace)
    return namespace


@pytest.mark.parametrize("tail_seconds", [0.5, 3.0, 7.3, 9.99])
def test_last_window_is_padded_exactly_as_laion_clap_does(tail_seconds):
    laion = _laion_data_functions()
    x = music(10.0 + tail_seconds) * 1.7  # some samples beyond +-1 exercise the clipping
    ours = clap.windows(x)
    tail = x[clap.WINDOW_SAMPLES:]
    quantised = laion["int16_to_float32"](laion["float32_to_int16"](tail))
    sample = laion["get_audio_features"]({}, torch.from_numpy(quantised), clap.WINDOW_SAMPLES, "rand_trunc",
                                         "repeatpad", {"sample_rate": SR})
    assert ours.shape == (2, clap.WINDOW_SAMPLES)
    np.testing.assert_array_equal(ours[1], sample["waveform"].numpy())
    np.testing.assert_array_equal(
        ours[0], laion["int16_to_float32"](laion["float32_to_int16"](x[: clap.WINDOW_SAMPLES])))


# --------------------------------------------------------------------------- embeddings


@pytest.mark.slow
def test_embeddings_are_unit_512_and_bit_identical(encoder, tiny_ckpt, tiny_raw, tmp_path):
    x = music(12.0)
    first = encoder.embed(x)
    assert first.windows.shape == (2, clap.EMBED_DIM) and first.windows.dtype == np.float32
    assert first.aggregate.shape == (clap.EMBED_DIM,)
    np.testing.assert_allclose(np.linalg.norm(first.windows, axis=1), 1.0, atol=1e-5)
    assert np.linalg.norm(first.aggregate) == pytest.approx(1.0, abs=1e-6)
    mean = first.windows.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(first.aggregate, mean / np.linalg.norm(mean), atol=1e-6)
    assert first.window_bounds == ((0.0, 10.0), (10.0, 12.0))
    assert not np.allclose(first.windows[0], first.windows[1])
    threads = torch.get_num_threads()
    again = encoder.embed(x)
    assert torch.get_num_threads() == threads  # the encoder pins its threads only while it runs
    assert np.array_equal(first.windows, again.windows) and np.array_equal(first.aggregate, again.aggregate)
    # a bare state dict without the "state_dict" wrapper or "module." prefixes, loaded separately
    bare = tmp_path / "bare.pt"
    torch.save({k.removeprefix("module."): v for k, v in tiny_raw["state_dict"].items()}, bare)
    other = clap.load_encoder(bare)
    assert other.architecture == "HTSAT-tiny"
    third = other.embed(x)
    assert np.array_equal(first.windows, third.windows) and np.array_equal(first.aggregate, third.aggregate)


def test_loaded_weights_are_the_checkpoint_weights(encoder, tiny_raw):
    assert encoder.architecture == "HTSAT-tiny"
    state = encoder.modules.state_dict()
    ckpt = {k.removeprefix("module."): v for k, v in tiny_raw["state_dict"].items()}
    assert set(state) == {k for k in ckpt if k.startswith(("audio_branch.", "audio_projection."))}
    assert all(torch.equal(state[k], ckpt[k]) for k in state)
    assert not encoder.modules.training


def test_architecture_is_inferred_from_shapes():
    def state(width, n_fft=1024):
        return {"audio_projection.0.weight": torch.empty(512, width),
                "audio_branch.spectrogram_extractor.stft.conv_real.weight": torch.empty(513, 1, n_fft)}

    assert clap.infer_architecture(state(768)) == "HTSAT-tiny"
    assert clap.infer_architecture(state(1024)) == "HTSAT-base"
    assert clap.infer_architecture(state(768, 1536)) == "HTSAT-tiny-win-1536"
    with pytest.raises(clap.CheckpointError, match="takes 640 inputs"):
        clap.infer_architecture(state(640))


# --------------------------------------------------------------------------- rejected checkpoints


def _save_variant(tmp_path, raw, edit) -> Path:
    state = dict(raw["state_dict"])
    edit(state)
    path = tmp_path / "variant.pt"
    torch.save({**raw, "state_dict": state}, path)
    return path


def test_missing_audio_weights_are_rejected(tmp_path, tiny_raw):
    def drop(state):
        del state["module.audio_branch.layers.2.blocks.5.mlp.fc2.weight"]
        del state["module.audio_projection.2.bias"]

    with pytest.raises(clap.CheckpointError, match=r"2 audio weight\(s\) missing.*audio_branch.layers.2.blocks.5"):
        clap.load_encoder(_save_variant(tmp_path, tiny_raw, drop))


def test_wrong_shapes_and_unknown_audio_weights_are_rejected(tmp_path, tiny_raw):
    def damage(state):
        state["module.audio_branch.patch_embed.proj.weight"] = torch.zeros(96, 1, 3, 3)
        state["module.audio_branch.fusion_model.weight"] = torch.zeros(4)

    with pytest.raises(clap.CheckpointError) as info:
        clap.load_encoder(_save_variant(tmp_path, tiny_raw, damage))
    message = str(info.value)
    assert "wrong shape" in message and "audio_branch.patch_embed.proj.weight (96, 1, 3, 3)" in message
    assert "unknown audio weight" in message and "fusion" in message


def test_checkpoint_without_audio_encoder_is_rejected(tmp_path, tiny_raw):
    path = _save_variant(tmp_path, tiny_raw, lambda s: [s.pop(k) for k in list(s) if "audio" in k])
    with pytest.raises(clap.CheckpointError, match="no CLAP audio encoder"):
        clap.load_encoder(path)


def test_truncated_checkpoint_is_rejected(tmp_path, tiny_ckpt):
    data = tiny_ckpt.read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(clap.CheckpointError, match="truncated or corrupt"):
        clap.load_encoder(path)


@pytest.mark.parametrize("content", [b"", b"this is not a model\n" * 10, encode(tone(seconds=1.0))])
def test_non_checkpoint_files_are_rejected(tmp_path, content):
    path = tmp_path / "not-a-model.pt"
    path.write_bytes(content)
    with pytest.raises(clap.CheckpointError, match="not a readable PyTorch checkpoint|is empty"):
        clap.load_encoder(path)


class Payload:
    """A pickled object that weights_only loading must refuse."""


def test_checkpoints_with_code_are_refused(tmp_path):
    path = tmp_path / "code.pt"
    torch.save({"state_dict": {"audio_projection.0.weight": torch.zeros(2)}, "x": Payload()}, path)
    with pytest.raises(clap.CheckpointError, match="would run code"):
        clap.load_encoder(path)


# --------------------------------------------------------------------------- discovery


def test_discovery_order(tmp_path, monkeypatch):
    folder = clap.checkpoint_dir()
    with pytest.raises(clap.CheckpointNotFound) as info:
        clap.find_checkpoint()
    assert str(folder) in info.value.reason and clap.MUSIC_CHECKPOINT in info.value.how_to_enable
    folder.mkdir(parents=True)
    for name in ("630k-best.pt", clap.MUSIC_CHECKPOINT, "zz.pt.part"):
        (folder / name).write_bytes(b"x")
    assert clap.find_checkpoint().name == clap.MUSIC_CHECKPOINT
    env = tmp_path / "env.pt"
    env.write_bytes(b"x")
    monkeypatch.setenv(clap.ENV_VAR, str(env))
    assert clap.find_checkpoint() == env.resolve()
    explicit = tmp_path / "explicit.pt"
    explicit.write_bytes(b"x")
    assert clap.find_checkpoint(explicit) == explicit.resolve()
    with pytest.raises(clap.ClapUnavailable, match="given explicitly"):
        clap.find_checkpoint(tmp_path / "missing.pt")
    monkeypatch.setenv(clap.ENV_VAR, str(tmp_path / "gone.pt"))
    with pytest.raises(clap.ClapUnavailable, match=r"gone.pt \(from \$CLAP_CHECKPOINT\) does not exist"):
        clap.find_checkpoint()


# --------------------------------------------------------------------------- download


class _Server:
    """Serves one file over HTTP on 127.0.0.1 with Range support; can drop a transfer midway."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.drop_after: int | None = None  # bytes of the body to send before closing
        self.honour_range = True
        self.requests: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                owner.requests.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng and owner.honour_range else 0
                body = owner.data[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(owner.data) - 1}/{len(owner.data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if owner.drop_after is not None:
                    self.wfile.write(body[: owner.drop_after])
                    self.wfile.flush()
                    owner.drop_after = None
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{clap.MUSIC_CHECKPOINT}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tiny_ckpt):
    srv = _Server(tiny_ckpt.read_bytes())
    yield srv
    srv.close()


def test_download_resumes_after_a_dropped_connection(server, tmp_path, tiny_ckpt):
    dest = tmp_path / "models"
    server.drop_after = len(server.data) // 3
    seen = []
    with pytest.raises(clap.DownloadError, match="stopped after .* Run it again to resume"):
        clap.download_checkpoint(dest, url=server.url, progress=lambda d, t: seen.append((d, t)))
    part = dest / (clap.MUSIC_CHECKPOINT + ".part")
    assert part.stat().st_size == len(server.data) // 3
    assert not (dest / clap.MUSIC_CHECKPOINT).exists()
    path = clap.download_checkpoint(dest, url=server.url, progress=lambda d, t: seen.append((d, t)))
    assert server.requests == [None, f"bytes={len(server.data) // 3}-"]
    assert path == dest / clap.MUSIC_CHECKPOINT and not part.exists()
    assert sha256_file(path) == sha256_file(tiny_ckpt)
    mib = f"{len(server.data) / 2**20:,.0f}"
    assert seen[-1] == (1.0, f"downloading {clap.MUSIC_CHECKPOINT}: {mib} / {mib} MiB (100%)")
    assert clap.read_audio_state(path)  # the downloaded file is a usable checkpoint


def test_download_restarts_when_the_server_ignores_range(server, tmp_path):
    dest = tmp_path / "models"
    dest.mkdir()
    (dest / (clap.MUSIC_CHECKPOINT + ".part")).write_bytes(b"stale bytes")
    server.honour_range = False
    path = clap.download_checkpoint(dest, url=server.url)
    assert path.read_bytes() == server.data


def test_interrupted_download_can_clean_up(server, tmp_path):
    server.drop_after = 1000
    with pytest.raises(clap.DownloadError):
        clap.download_checkpoint(tmp_path, url=server.url, keep_partial=False)
    assert list(tmp_path.iterdir()) == []


def test_download_checks_the_size(server, tmp_path):
    with pytest.raises(clap.DownloadError, match="instead of"):
        clap.download_checkpoint(tmp_path, url=server.url, expected_size=len(server.data) + 1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x.pt", "https://no-such-host.invalid/x.pt"])
def test_offline_download_fails_fast_and_says_where_to_put_the_file(tmp_path, url, monkeypatch):
    from detector.layers.clap import download

    probes = []
    real_probe = download._reachable
    monkeypatch.setattr(download, "_reachable", lambda *a: probes.append(a) or real_probe(*a))
    monkeypatch.setattr(download, "_open", lambda *a: pytest.fail("an HTTP request was made after the probe failed"))
    with pytest.raises(clap.DownloadError) as info:
        clap.download_checkpoint(tmp_path / "dest", url=url, connect_timeout=0.5)
    assert probes == [(url, 0.5)]  # one bounded probe, no retries, no request
    assert not (tmp_path / "dest").exists()
    assert "not reachable" in info.value.reason
    assert str(tmp_path / "dest") in info.value.how_to_enable and url in info.value.how_to_enable


def test_cli_download(server, tmp_path, capsys):
    assert main(["download-clap", "--dest", str(tmp_path), "--url", server.url]) == 0
    assert (tmp_path / clap.MUSIC_CHECKPOINT).read_bytes() == server.data
    assert "100%" in capsys.readouterr().err


def test_the_download_url_follows_hf_endpoint(monkeypatch):
    assert clap.checkpoint_url() == clap.MUSIC_CHECKPOINT_URL
    monkeypatch.setenv("HF_ENDPOINT", "https://mirror.example/")
    assert clap.checkpoint_url() == f"https://mirror.example/lukewys/laion_clap/resolve/main/{clap.MUSIC_CHECKPOINT}"


# --------------------------------------------------------------------------- install (an upload)


def test_an_installed_checkpoint_is_checked_then_found(tiny_ckpt):
    steps = []
    path = clap.install_checkpoint(tiny_ckpt.read_bytes(), "../../My Model.pt",
                                   progress=lambda f, m: steps.append((f, m)))
    folder = clap.checkpoint_dir()
    assert path == (folder / "My_Model.pt").resolve() and sorted(p.name for p in folder.iterdir()) == ["My_Model.pt"]
    assert path.read_bytes() == tiny_ckpt.read_bytes() and path.stat().st_mode & 0o777 == 0o644
    assert clap.find_checkpoint() == path and clap.installed_note(path).endswith("the CLAP layer uses it now.")
    assert steps[-1] == (1.0, "installed My_Model.pt") and any(m.startswith("checking that") for _, m in steps)


@pytest.mark.parametrize("content, match", [
    (b"this is not a model\n" * 10, "not a readable PyTorch checkpoint"),
    (b"", "is empty"),
    ("code", "would run code"),
    ("big", "checkpoints above 1 MiB are not accepted"),
])
def test_a_bad_checkpoint_is_refused_and_not_kept(content, match, tmp_path):
    if content == "code":
        torch.save({"state_dict": {"audio_projection.0.weight": torch.zeros(2)}, "x": Payload()}, tmp_path / "c.pt")
        content = (tmp_path / "c.pt").read_bytes()
    elif content == "big":
        content = b"x" * (2 << 20)
    with pytest.raises(clap.CheckpointError, match=match):
        clap.install_checkpoint(content, "upload.pt", max_bytes=1 << 20)
    folder = clap.checkpoint_dir()
    assert not folder.exists() or list(folder.iterdir()) == []  # neither the file nor its staging folder


@pytest.mark.slow
def test_only_pt_files_are_installed_and_others_win_by_name(tiny_ckpt, monkeypatch):
    with pytest.raises(clap.CheckpointError, match="not a .pt file"):
        clap.install_checkpoint(b"x", "weights.bin")
    folder = clap.checkpoint_dir()
    folder.mkdir(parents=True)
    (folder / clap.MUSIC_CHECKPOINT).write_bytes(b"x")  # found first, by name
    with tiny_ckpt.open("rb") as fh:  # a file object, read to its end
        path = clap.install_checkpoint(fh, "mine.pt")
    assert f"{clap.MUSIC_CHECKPOINT} in the same folder comes first" in clap.installed_note(path)
    monkeypatch.setenv(clap.ENV_VAR, str(tiny_ckpt))
    assert "$CLAP_CHECKPOINT names" in clap.installed_note(path)


def test_hidden_files_in_the_checkpoint_folder_are_not_checkpoints():
    folder = clap.checkpoint_dir()
    (folder / ".upload-x").mkdir(parents=True)
    (folder / ".tmp-half.pt").write_bytes(b"x")
    with pytest.raises(clap.CheckpointNotFound):
        clap.find_checkpoint()


# --------------------------------------------------------------------------- the Models page: enabling CLAP


def _models_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../dashboard.py", default_timeout=300)
    return at.switch_page("pages/models.py").run()


def test_models_page_download_offline_says_why(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    at = _models_page()
    assert "`http://127.0.0.1:9/lukewys/laion_clap/resolve/main/" in " ".join(c.value for c in at.caption)
    at.button(key="models:clap-download").click().run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("Cannot download the CLAP checkpoint: 127.0.0.1 is not reachable")
    assert f"put it into {clap.checkpoint_dir()}" in error.value
    assert not clap.checkpoint_dir().exists()
    assert "The CLAP layer is off" in at.info[0].value


def test_models_page_refuses_a_bad_upload_and_keeps_nothing():
    at = _models_page()
    at.file_uploader(key="models:clap-upload").upload("broken.pt", b"not a checkpoint\n" * 64).run()
    at.button(key="models:clap-install").click().run()
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("**broken.pt was not installed (and not kept).** broken.pt is not a readable "
                                  "PyTorch checkpoint")
    assert list(clap.checkpoint_dir().iterdir()) == []
    assert "The CLAP layer is off" in at.info[0].value


def test_models_page_installs_an_uploaded_checkpoint_and_turns_clap_on(tiny_ckpt):
    at = _models_page()
    at.file_uploader(key="models:clap-upload").upload("my-clap.pt", tiny_ckpt.read_bytes()).run()
    at.button(key="models:clap-install").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("Installed my-clap.pt in ") and "uses it now" in at.success[0].value
    assert at.success[1].value.startswith("**Active: my-clap.pt** · HTSAT-tiny")
    assert not [u for u in at.file_uploader if u.key == "models:clap-upload"]  # the setup is gone: CLAP is on


@pytest.mark.slow
def test_models_page_downloads_the_checkpoint_and_turns_clap_on(server, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", server.url.rsplit("/", 1)[0])
    at = _models_page()
    at.button(key="models:clap-download").click().run()
    assert not at.exception and not at.error
    assert server.requests == [None]
    assert f"Installed {clap.MUSIC_CHECKPOINT}".replace("_", "\\_") in at.success[0].value
    assert at.success[1].value.startswith(f"**Active: {clap.MUSIC_CHECKPOINT}".replace("_", "\\_"))


# --------------------------------------------------------------------------- service and report


def test_clap_layer_runs_and_fills_the_segments(encoder):
    data = encode(music(12.0, 44100), 44100)
    stages = []
    track = extract(data, clap=encoder, segment_seconds=5.0, progress=lambda f, s: stages.append((f, s)))
    report = score(track)
    assert stages[0] == (0.0, "Decoding") and stages[-1] == (1.0, "Done")
    assert [f for f, _ in stages] == sorted(f for f, _ in stages)
    assert "CLAP embeddings (2/2 windows)" in [s for _, s in stages]
    assert set(report.layers) == {"spectral", "clap", "artifacts"}
    # the uncalibrated CLAP rules are evidence; with no fingerprint the artifact layer decides
    assert report.decided_by == "artifacts" and report.score == report.layers["artifacts"].score
    assert "clap" not in {s.name for s in report.skipped}
    clap_layer = report.layers["clap"]
    assert [c.feature for c in clap_layer.contributions] == ["kurtosis", "sparsity", "entropy", "std"]
    assert [(s.start, s.end) for s in report.segments] == [(0.0, 5.0), (5.0, 10.0), (10.0, 12.0)]
    for seg, window in zip(report.segments, (0, 0, 1)):
        assert set(seg.layer_scores) == {"spectral", "clap", "artifacts"}
        assert seg.score == seg.layer_scores["artifacts"]  # the deciding layer's
        assert seg.features["kurtosis"] == track.clap.window_stats[window]["kurtosis"]
        assert "mfcc_variance" in seg.features
    assert report.versions["clap_checkpoint"] == "random-tiny.pt"
    assert report.versions["clap_checkpoint_sha256"] == encoder.sha256
    assert {"torch", "laion-clap"} <= set(report.versions)
    assert report.timings["clap_s"] > 0
    assert DetectionReport.from_json(report.to_json()) == report


def test_without_encoder_the_skip_reason_is_precise(tmp_path, monkeypatch, tiny_ckpt):
    data = encode(music(2.0, 44100), 44100)
    report = analyze(data)
    assert report.decided_by == "artifacts" and "torch" not in report.versions
    assert all(set(s.layer_scores) == {"spectral", "artifacts"} for s in report.segments)
    (skip,) = [s for s in report.skipped if s.name == "clap"]
    assert skip.reason.startswith("No LAION-CLAP checkpoint found") and str(clap.checkpoint_dir()) in skip.reason
    monkeypatch.setenv(clap.ENV_VAR, str(tiny_ckpt))
    (skip,) = [s for s in analyze(data).skipped if s.name == "clap"]
    assert "available" in skip.reason and "without the CLAP encoder" in skip.reason
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"garbage" * 100)
    monkeypatch.setenv(clap.ENV_VAR, str(broken))
    with pytest.raises(clap.CheckpointError):
        clap.get_encoder()
    (skip,) = [s for s in analyze(data).skipped if s.name == "clap"]
    assert "broken.pt is not a readable PyTorch checkpoint" in skip.reason and skip.how_to_enable


def test_schema_1_reports_still_load():
    report = score(extract(encode(music(3.0, 44100), 44100)))
    old = json.loads(report.to_json())
    old["schema_version"] = 1
    for seg in old["segments"]:
        del seg["layer_scores"]
    again = DetectionReport.from_dict(old)
    assert again.schema_version == 1 and all(s.layer_scores == {} for s in again.segments)


@pytest.mark.slow
def test_cli_uses_the_checkpoint_for_every_file(tmp_path, tiny_ckpt, capsys, monkeypatch):
    files = []
    for i in range(2):
        files.append(tmp_path / f"t{i}.wav")
        files[-1].write_bytes(encode(music(3.0 + i, 44100), 44100))
    assert main(["analyze", *map(str, files), "--json", "--clap-checkpoint", str(tiny_ckpt)]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [sorted(r["layers"]) for r in reports] == [["artifacts", "clap", "spectral"]] * 2
    monkeypatch.setenv(clap.ENV_VAR, str(tiny_ckpt))  # the environment variable works the same way
    assert main(["analyze", str(files[0])]) == 0
    out = capsys.readouterr().out
    assert "decided by artifacts" in out and "clap layer" in out


def test_cli_goes_on_without_clap_when_the_checkpoint_fails(tmp_path, capsys):
    wav = tmp_path / "t.wav"
    wav.write_bytes(encode(music(2.0, 44100), 44100))
    bad = tmp_path / "bad.pt"
    bad.write_text("nope")
    assert main(["analyze", str(wav), "--json", "--clap-checkpoint", str(bad)]) == 0
    captured = capsys.readouterr()
    assert "warning: the CLAP layer is off: bad.pt is not a readable PyTorch checkpoint" in captured.err
    (report,) = json.loads(captured.out)
    assert "clap" not in report["layers"]
    assert any(s["name"] == "clap" and "bad.pt" in s["reason"] for s in report["skipped"])


def test_dashboard_runs_the_clap_layer_with_a_configured_checkpoint(tiny_ckpt, monkeypatch):
    """Analyse and Models pages with $CLAP_CHECKPOINT set: the CLAP layer runs and decides, a progress bar
    follows it window by window (drawn from the script thread), and Models names the checkpoint."""
    from streamlit.testing.v1 import AppTest

    import pages._shared as shared

    stages = []

    def watched(*args, progress, **kwargs):
        def step(fraction, stage):
            stages.append((fraction, stage, threading.current_thread().name))
            progress(fraction, stage)  # draws the bar: would raise if this ran where Streamlit forbids drawing
        return extract(*args, progress=step, **kwargs)

    monkeypatch.setattr(shared, "extract", watched)
    monkeypatch.setenv(clap.ENV_VAR, str(tiny_ckpt))
    at = AppTest.from_file("../dashboard.py", default_timeout=300).run()
    at.file_uploader[0].upload("song.wav", encode(music(32.0), SR), "audio/wav").run()
    assert not at.exception and not at.error
    assert any("Decided by the **artifacts** layer" in c.value and "**clap** (" in c.value for c in at.caption)
    assert not any("CLAP layer did not run" in i.value for i in at.info)
    windows = [s for _, s, _ in stages if s.startswith("CLAP embeddings (")]
    assert windows[-1] == "CLAP embeddings (4/4 windows)" and len(windows) >= 2
    fractions = [f for f, _, _ in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len({t for _, _, t in stages}) == 1 and not any(t.startswith("clap") for _, _, t in stages)
    at.switch_page("pages/models.py").run()
    assert not at.exception
    assert "random-tiny.pt" in at.success[0].value and "HTSAT-tiny" in at.success[0].value
    assert "fast path (FFT STFT" in at.success[0].value


def test_models_page_says_why_clap_is_off(monkeypatch):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../dashboard.py", default_timeout=120)
    at.switch_page("pages/models.py").run()
    assert not at.exception
    assert "The CLAP layer is off" in at.info[0].value and "models/clap" in at.info[0].value


_WITHOUT_TORCHVISION = """
import sys
import torch
from detector.layers.clap import laion
model = laion.laion_model_module()
assert hasattr(model, "CLAP")
assert not any(m == "torchvision" or m.startswith("torchvision.") for m in sys.modules), "stand-in left behind"
from laion_clap.clap_module.utils import freeze_batch_norm_2d
try:
    freeze_batch_norm_2d(torch.nn.BatchNorm2d(2))
except ImportError as exc:
    print("refused:", exc)
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed")
def test_laion_model_imports_without_torchvision():
    """requirements.in leaves torchvision out: laion-clap's model imports through a stand-in
    that is gone afterwards, and the one function that needs torchvision says so."""
    out = subprocess.run([sys.executable, "-c", _WITHOUT_TORCHVISION], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.startswith("refused: torchvision is not installed")


def test_preload_loads_the_configured_checkpoint_in_the_background(tmp_path, monkeypatch, tiny_ckpt):
    """What the dashboard starts at its first run: the first analysis then finds the encoder loaded."""
    import shutil

    monkeypatch.delenv(clap.ENV_VAR, raising=False)
    assert clap.preload() is None  # nothing configured: nothing to load
    mine = tmp_path / "preloaded.pt"
    shutil.copy(tiny_ckpt, mine)  # a file of its own, so no other test has loaded it already
    monkeypatch.setenv(clap.ENV_VAR, str(mine))
    thread = clap.preload()
    assert thread is not None and thread.daemon
    thread.join(timeout=120)
    assert not thread.is_alive()
    from detector.layers.clap import registry

    assert any(key[0] == mine.resolve() for key in registry._encoders)  # loaded by the thread, before any call
    first = clap.get_encoder()
    assert first is clap.get_encoder() and first.name == "preloaded.pt"  # the one the thread loaded
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"garbage" * 100)
    monkeypatch.setenv(clap.ENV_VAR, str(broken))
    clap.preload().join(timeout=60)  # a failed load is remembered for the page, not raised in the thread
    assert "broken.pt is not a readable PyTorch checkpoint" in clap.availability().reason
