"""Which models are active and why; enable CLAP (download or upload a checkpoint); train and activate a classifier.

On a shared server, installing a CLAP checkpoint is for admins, and training data comes from an uploaded zip or
a folder inside the configured data root, never from a path typed in the browser.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from detector import ProfileError, plots
from detector.features import FeatureSetUnavailable, resolve_feature_set
from detector.history import check_name
from detector.serving import (
    ServingError, confine, dataset_folder, dataset_folders, extracted_dataset, hide_folder, uploads_dir,
)
from detector.layers import clap
from detector.layers.classifier import (
    ACTIVE_MODEL_ENV, Importance, ModelError, activate, active_model_path, card_summary, is_active, models_dir,
    saved_models,
)
from detector.layers.classifier.pipeline import DEFAULT_KIND, MODEL_KINDS
from detector.training import (
    SAVING_SHARE, Dataset, DatasetError, load_dataset, save_model, skipped_summary, train_dataset,
)
from detector.types import progress_span
from pages._serving import access, charge_upload, current_user, data_root, is_shared, page_access, training_slot
from pages._shared import CLAP_PRECISION, active_model, clap_encoder, clap_precision, md_text, progress_bar
from pages._shared import feature_cache, stability_cache

page_access()  # only for a session that may use the pages (the sign-in gate)
SERVER, ZIP, ROOT = "server", "zip", "root"
SOURCES = {SERVER: "A folder or CSV on this machine", ZIP: "An uploaded zip", ROOT: "A folder in the data root"}

st.title("Models")


def _metrics(metrics, title: str, key: str, calibration: str) -> None:
    st.markdown(f"**{title}** · {metrics.n_samples} tracks ({metrics.class_counts['human']} human, "
                f"{metrics.class_counts['ai']} AI)")
    c1, c2, c3 = st.columns(3)
    c1.metric("ROC AUC", "n/a" if metrics.roc_auc is None else f"{metrics.roc_auc:.3f}")
    c2.metric("Accuracy", f"{metrics.accuracy:.1%}")
    c3.metric("F1 (AI)", f"{metrics.f1:.3f}")
    charts = st.columns(3)
    charts[0].plotly_chart(plots.confusion_figure(metrics.confusion_matrix), width="stretch", key=f"{key}-cm")
    if metrics.roc_fpr is not None:
        charts[1].plotly_chart(plots.roc_figure(metrics.roc_fpr, metrics.roc_tpr, metrics.roc_auc), width="stretch",
                               key=f"{key}-roc")
    if metrics.calibration is not None:
        charts[2].plotly_chart(plots.calibration_figure(metrics.calibration.prob_pred, metrics.calibration.prob_true,
                                                        title=calibration), width="stretch", key=f"{key}-cal")


def _drivers(importance: Importance | None, key: str) -> None:
    """What drove a model, from its card's permutation importance."""
    if importance is None:
        st.caption("Which features drive it: not recorded for this model (trained before the permutation "
                   "importance was kept; retrain it to see them).")
    elif not importance.top:
        st.caption(f"Which features drive it: no single feature lowered the accuracy when shuffled "
                   f"({importance.describe()}). The model spreads its decision over many features, or too few "
                   "tracks were measured to tell.")
    else:
        st.plotly_chart(plots.drivers_chart(importance.drivers, std=[f.std for f in importance.top]),
                        width="stretch", key=f"{key}-drivers")
        st.caption(f"What the model relies on: {importance.describe()}. A bar is how much accuracy drops when that "
                   "feature is shuffled (the line: its spread over the shuffles).")


def _activate(path) -> None:
    try:
        activate(path)
    except ModelError as exc:
        st.session_state["models:error"] = str(exc)
        return
    if path is None:
        st.session_state["models:message"] = "No classifier is active now."
    elif is_active(path):
        st.session_state["models:message"] = f"Now using **{md_text(Path(path).name)}**."
    else:  # $DETECTOR_MODEL wins over the recorded choice
        st.session_state["models:error"] = (f"**{md_text(Path(path).name)}** is recorded as the active model, but "
                                            f"\\${ACTIVE_MODEL_ENV} names {md_text(active_model_path())}, which the "
                                            "dashboard uses instead. Unset it to use your choice.")


def _every_percent(progress):
    """``progress``, called only when the whole percent changes (a download reports every MiB)."""
    shown = [None]

    def report(fraction: float, message: str) -> None:
        percent = int(100 * fraction)
        if percent != shown[0] or not fraction:
            shown[0] = percent
            progress(fraction, message)
    return report


def _install(bar, failed: str, install: Callable[[], Path]) -> None:
    """Run ``install`` (a download or an upload) under ``bar``: on success rerun with CLAP on, else say why,
    after ``failed`` where the reason does not say it already."""
    try:
        path = install()
    except clap.ClapUnavailable as exc:
        bar.empty()
        lead = "" if isinstance(exc, clap.DownloadError) else f"**{failed}.** "
        st.error(lead + exc.reason + (f"\n\n{exc.how_to_enable}" if exc.how_to_enable else ""))
    except OSError as exc:
        bar.empty()
        st.error(f"**{failed}:** it cannot be written into {md_text(clap.checkpoint_dir())} ({exc.strerror or exc}).")
    else:
        st.session_state["models:message"] = md_text(clap.installed_note(path))
        st.rerun()


def _clap_setup() -> None:
    """Download the music checkpoint, or install an uploaded one; on success the page reruns with CLAP on."""
    down, up = st.columns(2)
    with down:
        st.markdown("**Download the music checkpoint**")
        st.caption(f"`{clap.MUSIC_CHECKPOINT}` from `{clap.checkpoint_url()}` into `{clap.checkpoint_dir()}` "
                   f"(set `{clap.ENDPOINT_ENV}` for a mirror). An interrupted download resumes where it stopped.")
        if st.button("Download", key="models:clap-download"):
            bar = st.progress(0.0, text="Connecting…")
            _install(bar, "The checkpoint was not downloaded",
                     lambda: clap.download_checkpoint(progress=_every_percent(progress_bar(bar))))
    with up:
        # the server refuses any upload above server.maxUploadSize, whatever a widget allows
        limit = min(clap.MAX_CHECKPOINT_MIB, int(st.get_option("server.maxUploadSize")))
        upload = st.file_uploader(f"…or upload a LAION-CLAP checkpoint (.pt, up to {limit:,} MiB)", type=["pt"],
                                  max_upload_size=limit, key="models:clap-upload")
        too_small = (" The released LAION-CLAP checkpoints are over 1 GiB: for them use Download, or copy the file "
                     f"into `{clap.checkpoint_dir()}`." if limit < 1024 else "")
        st.caption(f"This server takes uploads up to {limit:,} MiB (`server.maxUploadSize`).{too_small} An upload is "
                   "loaded once as a test (tensors only, never code) and kept only if it works.")
        if upload is not None and st.button(f"Install {upload.name}", key="models:clap-install"):
            if refusal := charge_upload(upload):
                st.error(refusal)
                st.stop()
            bar = st.progress(0.0, text=f"Copying {upload.name}…")
            _install(bar, f"{md_text(upload.name)} was not installed (and not kept)",
                     lambda: clap.install_checkpoint(upload, upload.name, max_bytes=limit * 2**20,
                                                     progress=progress_bar(bar)))


for kind, show in (("models:message", st.success), ("models:error", st.error)):
    if text := st.session_state.pop(kind, None):
        show(text)

with st.expander("Server memory: what the caches hold", icon=":material/memory:"):
    st.caption("Analysed tracks (so that moving a threshold rescores at once): "
               f"{feature_cache().usage().describe()}. Stability checks: {stability_cache().usage().describe()}. "
               "The least recently used go first when either bound is reached.")

st.header("CLAP embedding layer")
if clap.availability() is None:  # a checkpoint is ready: choose the precision it runs in (this session)
    st.session_state[CLAP_PRECISION] = st.selectbox(
        "Precision", clap.PRECISIONS, index=clap.PRECISIONS.index(clap_precision()),
        format_func=clap.PRECISION_LABELS.get, key="models:clap-precision",
        help="The precision of the encoder's linear layers for this session's new analyses. fp32 is exact; int8 and "
             "bf16 are faster and drift the embeddings slightly (cosine to fp32 above 0.99). Reports and model cards "
             "record it, and a classifier trained on another precision gets a warning.")
encoder = clap_encoder()
if encoder is not None:
    st.success(f"**Active: {md_text(encoder.name)}** · {encoder.architecture} (read from the checkpoint's weights) · "
               f"{encoder.precision} · SHA-256 {encoder.sha256[:12]}… · {encoder.threads} inference worker(s) · "
               f"{md_text(encoder.note)}. Every new analysis embeds the whole track in 10 s windows; the CLAP layer "
               "decides when no classifier is active.")
    if encoder.precision != clap_precision():
        st.warning(f"CLAP runs in {encoder.precision}, not {clap_precision()}: {md_text(encoder.note)}")
else:
    why = clap.availability()
    st.info(f"**The CLAP layer is off.** {why.reason if why else 'No checkpoint is configured.'}\n\n"
            f"*How to enable:* {why.how_to_enable if why else ''}")
    if access().is_admin:
        _clap_setup()
    else:
        st.caption("On this shared server, installing a CLAP checkpoint (download or upload) is for its admins, "
                   "listed in its configuration (DETECTOR_ADMINS). Ask one of them, or the operator, who can also "
                   "point CLAP_CHECKPOINT at a checkpoint on the server.")

st.header("Trained classifier")
model = active_model()
if model is None:
    st.info("**No classifier is active**, so scores come from the heuristic layers. Train one below on your own "
            "labelled tracks (or `python -m detector train DATA --out model.skops`), then activate it.")
else:
    card = model.card
    st.success(f"**Active: {md_text(model.name)}** · {md_text(card_summary(card))} · SHA-256 {model.sha256[:12]}…")
    for warning in model.warnings:
        st.warning(warning)
    for warning in clap.precision_warnings(encoder, model):
        st.warning(md_text(warning))
    st.caption("Its P(AI) is the final score; the heuristic layers are still shown beside it. "
               "Cross-validated metrics from its model card:")
    cv = card["metrics"]["cv"]
    c1, c2, c3 = st.columns(3)
    c1.metric("CV ROC AUC", "n/a" if cv["roc_auc"] is None else f"{cv['roc_auc']:.3f}")
    c2.metric("CV accuracy", f"{cv['accuracy']:.1%}")
    c3.metric("CV F1", f"{cv['f1']:.3f}")
    _drivers(model.importance, "active")
    st.button("Stop using this classifier", on_click=_activate, args=(None,), key="models:deactivate")

saved = {m.name: m for m in saved_models()}
if saved:
    choice = st.selectbox("Models on this server", list(saved), key="models:choice")
    st.caption(md_text(saved[choice].summary()))
    if is_active(saved[choice].path):
        st.button("Active", disabled=True, icon=":material/check:", key="models:saved-active",
                  help="This model scores every new analysis.")
    else:
        st.button("Activate", on_click=_activate, args=(saved[choice].path,), key="models:activate-saved")

st.subheader("Train a classifier")
shared, root = is_shared(), data_root()
offered = [s for s in (SERVER, ZIP, ROOT) if (s != SERVER or not shared) and (s != ROOT or root is not None)]
source = st.segmented_control("Training data", offered, format_func=SOURCES.get, default=offered[0],
                              key="models:source") or offered[0]
st.caption({
    SERVER: "Point at a folder on this machine with `human/` and `ai/` subfolders (nested folders are fine), or at a "
            "CSV manifest with `path,label` rows.",
    ZIP: "Upload one zip holding a `human/` and an `ai/` folder of tracks (at the top, or inside one folder). It is "
         "unpacked into a fresh folder on the server for this training only, and removed afterwards.",
    ROOT: "A folder with `human/` and `ai/` subfolders inside the data root the operator configured "
          "(DETECTOR_DATA_ROOT); nothing outside it can be chosen.",
}[source] + " Features are cached by audio hash, so retraining never decodes again.")
if source == ZIP:  # outside the form: the upload starts as soon as it is dropped
    chosen = st.file_uploader("Training set (.zip)", type=["zip"], key="models:zip")
with st.form("train"):
    if source == SERVER:
        chosen = st.text_input("Labelled data (folder or CSV)", key="models:data")
    elif source == ROOT:
        try:
            folders = dataset_folders(root)
        except ServingError as exc:
            st.error(str(exc))
            folders = []
        chosen = st.selectbox("Folder in the data root", folders, key="models:root-folder",
                              placeholder="no folder with human/ and ai/ yet", index=0 if folders else None)
    f1, f2, f3, f4, f5 = st.columns(5)
    wanted = f1.selectbox("Features", ["auto", "spectral", "clap", "fakeprint"], key="models:features",
                          help="auto: CLAP embeddings when the CLAP layer is available, otherwise spectral. "
                               "fakeprint: the narrow peaks of the track's long-term spectrum (1-16 kHz) that a "
                               "generator's upsampling decoder leaves (Deezer's ISMIR 2025 study pairs it with a "
                               "logistic regression)")
    chosen_kind = f2.selectbox("Model", list(MODEL_KINDS), index=list(MODEL_KINDS).index(DEFAULT_KIND),
                               format_func=lambda k: MODEL_KINDS[k].label, key="models:kind",
                               help="; ".join(f"{k.label}: {k.description}" for k in MODEL_KINDS.values()))
    folds = f3.number_input("Cross-validation folds", 2, 10, 5, key="models:folds")
    test_size = f4.number_input("Held-out share", 0.0, 0.5, 0.2, step=0.05, key="models:test")
    name = f5.text_input("Model name", "my-model", key="models:name")
    submitted = st.form_submit_button("Train", type="primary", key="models:train")


def _private(text: str, *folders: Path) -> str:
    """On a shared server, ``text`` with the server's folders cut out of its paths."""
    return hide_folder(text, *folders, root, uploads_dir()) if shared else text


@contextmanager
def _training_set(source: str, chosen) -> Iterator[tuple[Dataset, str]]:
    """The labelled tracks ``chosen`` names, and how the model card names them; an upload is unpacked for the
    ``with`` block only."""
    if source == ZIP:
        if chosen is None:
            raise DatasetError("Choose a zip of human/ and ai/ folders first.")
        if refusal := charge_upload(chosen):
            raise DatasetError(refusal)
        with extracted_dataset(chosen, uploads_dir()) as unpacked:
            if unpacked.left_out:
                shown = ", ".join(md_text(n) for n in unpacked.left_out[:5])
                st.info(f"{len(unpacked.left_out)} file(s) in the zip are not audio under human/ or ai/ and were "
                        f"left out: {shown}{', …' if len(unpacked.left_out) > 5 else ''}.")
            yield confine(load_dataset(unpacked.folder), unpacked.folder), f"upload {chosen.name}"
    elif source == ROOT:
        if not chosen:
            raise DatasetError("Choose a folder of the data root first.")
        yield confine(load_dataset(dataset_folder(root, chosen)), root), f"data root: {chosen}"
    else:
        if not (chosen or "").strip():
            raise DatasetError("Type the path of a folder with human/ and ai/ subfolders, or of a CSV manifest.")
        dataset = load_dataset(Path(chosen.strip()).expanduser())
        yield dataset, str(dataset.source)


if submitted:
    try:
        name = check_name(name)
        with training_slot(), _training_set(source, chosen) as (dataset, described):
            feature_set, note = resolve_feature_set(wanted, clap_available=encoder is not None)
            if note:
                st.info(note)
            bar = st.progress(0.0, text="Extracting features…")
            result = train_dataset(dataset, feature_set, clap=encoder, folds=int(folds), test_size=float(test_size),
                                   kind=chosen_kind, progress=progress_span(progress_bar(bar), 0.0, 1 - SAVING_SHARE))
            path = models_dir() / f"{name}.skops"
            save_model(result, path, dataset=described, trained_by=current_user(),
                       progress=progress_span(progress_bar(bar), 1 - SAVING_SHARE, 1.0))
            skipped = _private(skipped_summary(result.skipped), dataset.source) if result.skipped else None
    except (DatasetError, FeatureSetUnavailable, ProfileError, ServingError) as exc:
        st.error(md_text(_private(str(exc))))
        st.stop()
    except OSError as exc:
        st.error(f"The model could not be saved: {exc.strerror or exc}")
        st.stop()
    if skipped:
        st.warning(md_text(skipped))
    for text in result.notes:
        st.info(text)
    st.session_state["models:trained"] = str(path)
    _metrics(result.cv, f"Cross-validation ({result.folds} folds, out-of-fold predictions)", "cv",
             "Calibration (out-of-fold)")
    if result.holdout:
        _metrics(result.holdout, f"Held-out {result.test_size:.0%} (model trained on the rest)", "holdout",
                 "Calibration (held-out)")
    _drivers(result.importance, "trained")

if trained := st.session_state.get("models:trained"):
    if is_active(trained):
        st.button(f"{Path(trained).name} is active", disabled=True, icon=":material/check:",
                  key="models:trained-active", help="This model scores every new analysis.")
    else:
        st.button(f"Activate {Path(trained).name}", on_click=_activate, args=(trained,), type="primary",
                  key="models:activate-trained")
