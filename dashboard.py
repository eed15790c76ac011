"""Streamlit entry point: page navigation. All numbers come from the detector package."""

import streamlit as st

st.set_page_config(page_title="AI music detector", page_icon="🎛️", layout="wide")
page = st.navigation([st.Page("pages/analyse.py", title="Analyse", icon="🔍", default=True)])
page.run()
