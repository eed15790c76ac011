"""Which models are active and why; train, evaluate and activate a classifier."""

from pathlib import Path

import streamlit as st

from detector import ProfileError, plots
from detector.features import FeatureSetUnavailable, resolve_feature_set
from detector.history import check_name
from detector.layers import clap
from detector.layers.classifier import ModelError, activate, card_summary, models_dir, saved_models
from detector.layers.classifier.pipeline import DEFAULT_KIND, MODEL_KINDS
from detector.training import DatasetError, load_dataset, save_model, skipped_summary, train_dataset
from pages._shared import active_model, clap_encoder, md_text, progress_bar

st.title("Models")


def _metrics(metrics, title: str, key: str) -> None:
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
        charts[2].plotly_chart(plots.calibration_figure(metrics.calibration.prob_pred, metrics.calibration.prob_true),
                               width="stretch", key=f"{key}-cal")


def _activate(path) -> None:
    try:
        activate(path)
        st.session_state["models:message"] = "No classifier is active now." if path is None else \
            f"Now using **{Path(path).name}**."
    except ModelError as exc:
        st.session_state["models:error"] = str(exc)


for kind, show in (("models:message", st.success), ("models:error", st.error)):
    if text := st.session_state.pop(kind, None):
        show(text)

st.header("CLAP embedding layer")
encoder = clap_encoder()
if encoder is not None:
    st.success(f"**Active: {md_text(encoder.name)}** · {encoder.architecture} (read from the checkpoint's weights) · "
               f"SHA-256 {encoder.sha256[:12]}… · {encoder.threads} inference worker(s) · {md_text(encoder.note)}. Every new "
               "analysis embeds the whole track in 10 s windows; the CLAP layer decides when no classifier is active.")
else:
    why = clap.availability()
    st.info(f"**The CLAP layer is off.** {why.reason if why else 'No checkpoint is configured.'}\n\n"
            f"*How to enable:* {why.how_to_enable if why else ''}")

st.header("Trained classifier")
model = active_model()
if model is None:
    st.info("**No classifier is active**, so scores come from the heuristic layers. Train one below on your own "
            "labelled tracks (or `python -m detector train DATA --out model.skops`), then activate it.")
else:
    card = model.card
    st.success(f"**Active: {md_text(model.name)}** · {card_summary(card)} · SHA-256 {model.sha256[:12]}…")
    for warning in model.warnings:
        st.warning(warning)
    st.caption("Its P(AI) is the final score; the heuristic layers are still shown beside it. "
               "Cross-validated metrics from its model card:")
    cv = card["metrics"]["cv"]
    c1, c2, c3 = st.columns(3)
    c1.metric("CV ROC AUC", "n/a" if cv["roc_auc"] is None else f"{cv['roc_auc']:.3f}")
    c2.metric("CV accuracy", f"{cv['accuracy']:.1%}")
    c3.metric("CV F1", f"{cv['f1']:.3f}")
    st.button("Stop using this classifier", on_click=_activate, args=(None,))

saved = {m.name: m for m in saved_models()}
if saved:
    choice = st.selectbox("Models on this server", list(saved), key="models:choice")
    st.caption(md_text(saved[choice].summary()))
    st.button("Activate", on_click=_activate, args=(saved[choice].path,))

st.subheader("Train a classifier")
st.caption("Point at a folder on this server with `human/` and `ai/` subfolders (nested folders are fine), or at a "
           "CSV manifest with `path,label` rows. Features are cached by audio hash, so retraining never decodes again.")
with st.form("train"):
    folder = st.text_input("Labelled data (folder or CSV)", key="models:data")
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
    submitted = st.form_submit_button("Train", type="primary")

if submitted:
    try:
        name = check_name(name)
        dataset = load_dataset(Path(folder.strip()).expanduser()) if folder.strip() else None
        if dataset is None:
            raise DatasetError("Type the path of a folder with human/ and ai/ subfolders, or of a CSV manifest.")
        feature_set, note = resolve_feature_set(wanted, clap_available=encoder is not None)
        if note:
            st.info(note)
        bar = st.progress(0.0, text="Extracting features…")
        result = train_dataset(dataset, feature_set, clap=encoder, folds=int(folds), test_size=float(test_size),
                               kind=chosen_kind, progress=progress_bar(bar))
        path = models_dir() / f"{name}.skops"
        save_model(result, path, dataset=str(dataset.source))
        bar.progress(1.0, text=f"Saved {path.name}.")
    except (DatasetError, FeatureSetUnavailable, ProfileError) as exc:
        st.error(str(exc))
        st.stop()
    except OSError as exc:
        st.error(f"The model could not be saved: {exc.strerror or exc}")
        st.stop()
    if result.skipped:
        st.warning(skipped_summary(result.skipped))
    for text in result.notes:
        st.info(text)
    st.session_state["models:trained"] = str(path)
    _metrics(result.cv, f"Cross-validation ({result.folds} folds, out-of-fold predictions)", "cv")
    if result.holdout:
        _metrics(result.holdout, f"Held-out {result.test_size:.0%} (model trained on the rest)", "holdout")

if trained := st.session_state.get("models:trained"):
    st.button(f"Activate {Path(trained).name}", on_click=_activate, args=(trained,), type="primary",
              key="models:activate-trained")
