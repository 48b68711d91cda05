"""The Streamlit app (`workbench app`); only this package imports streamlit."""
