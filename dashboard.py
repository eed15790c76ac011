"""Streamlit entry point: navigation and the shared sidebar. All numbers come from the detector package."""

import streamlit as st

from pages._shared import profile_sidebar, sync_query, thresholds

st.set_page_config(page_title="AI music detector", page_icon="🎛️", layout="wide")
page = st.navigation([
    st.Page("pages/analyse.py", title="Analyse", icon=":material/search:", default=True),
    st.Page("pages/tune.py", title="Tune", icon=":material/tune:"),
    st.Page("pages/history.py", title="Batch & history", icon=":material/history:"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:"),
])
thresholds()
if warning := st.session_state.pop("profile_warning", None):
    st.warning(warning)
sync_query()
profile_sidebar()
page.run()
