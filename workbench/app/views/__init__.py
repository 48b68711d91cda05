"""App pages: Streamlit scripts run by st.navigation (see ../main.py)."""
