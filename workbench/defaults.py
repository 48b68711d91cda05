"""Defaults every front end shares (CLI flags, the app's fields, the Python API, the demo); the providers' own
defaults should read these too."""

import os

DEFAULT_TIMEOUT_S = 60.0  # seconds per request
DEFAULT_RETRIES = 2  # retries per request on 429, 5xx, timeouts, dropped connections and garbled replies
API_DEFAULT = "openai:gpt-4o-mini"  # the model when none is chosen and OPENAI_API_KEY is set


def uses_local_default() -> bool:
    """No OpenAI key means the local model (finetune.default_model): the demo, the app and `workbench app`."""
    return not os.environ.get("OPENAI_API_KEY")
