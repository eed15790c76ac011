"""Streamlit entry point: the sign-in gate, navigation and the shared sidebar. All numbers come from ``detector``.

Before any page runs, :func:`pages._serving.gate` decides whom this server serves: on this
machine (loopback) everything is open; served to others it shows nothing but the sign-in
until a user is signed in, and nothing but what to configure when sign-in is missing.
"""

import streamlit as st

from pages._serving import account, gate
from pages._shared import preload, profile_sidebar, sync_query, thresholds

st.set_page_config(page_title="AI music detector", page_icon="🎛️", layout="wide")
pages = [
    st.Page("pages/analyse.py", title="Analyse", icon=":material/search:", default=True),
    st.Page("pages/tune.py", title="Tune", icon=":material/tune:"),
    st.Page("pages/history.py", title="Batch & history", icon=":material/history:"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:"),
]
access = gate(pages)  # stops here, showing only the sign-in or the refusal, unless this session may use the pages
page = st.navigation(pages)
account(access)
thresholds()
if warning := st.session_state.pop("profile_warning", None):
    st.warning(warning)
sync_query()
profile_sidebar()
try:
    page.run()
finally:  # a page that stops early (st.stop) has drawn all it will
    preload()  # the warm-up analysis and the CLAP model, in the background once the first page is drawn
