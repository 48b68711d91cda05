"""Request defaults every front end shares (CLI flags, the app's fields, the Python API, the providers)."""

DEFAULT_TIMEOUT_S = 60.0  # seconds per request
DEFAULT_RETRIES = 2  # retries per request on 429, 5xx, timeouts, dropped connections and garbled replies
