"""API keys: read from .streamlit/secrets.toml for the CLI (as the app reads them), routed only to the
endpoint they belong to, and masked out of every error text.

The environment wins; then ./.streamlit/secrets.toml, then ~/.streamlit/secrets.toml (Streamlit's own
order). Values go into this process's environment, where the providers read them; they are never
printed, stored or exported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from workbench.errors import UserError

NAMES = ("OPENAI_API_KEY", "OPENAI_BASE_URL")


def secret_files() -> list[Path]:
    return [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]


def toml_parser():
    """tomllib (Python 3.11+) or, on 3.10, tomli: the same parser under its PyPI name."""
    try:
        import tomllib
    except ImportError:
        import tomli as tomllib
    return tomllib


def load_secrets(files: list[Path] | None = None) -> list[str]:
    """Set the missing NAMES from the first secrets file that has them; returns the names set."""
    toml = toml_parser()
    found = []
    for name in NAMES:
        if os.environ.get(name):
            continue
        for path in files if files is not None else secret_files():
            try:
                value = toml.loads(path.read_text(encoding="utf-8")).get(name)
            except (OSError, ValueError):
                continue
            if value:
                os.environ[name] = str(value)
                found.append(name)
                break
    return found


# -- where a key may go ------------------------------------------------------------------------------
OFFICIAL_URL = "https://api.openai.com/v1"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_key_names: set[str] = {"OPENAI_API_KEY"}  # every variable a provider took a key from: masked in every error
_key_values: set[str] = set()  # and the values read for them (a secrets-file value is not in the environment)


def secret_value(name: str) -> str | None:
    """A key by its variable name: the environment, then the secrets files (as load_secrets reads them)."""
    value = os.environ.get(name)
    if value:
        return value
    toml = toml_parser()
    for path in secret_files():
        try:
            value = toml.loads(path.read_text(encoding="utf-8")).get(name)
        except (OSError, ValueError):
            continue
        if value:
            return str(value)
    return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"https": 443, "http": 80}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def is_home(base_url: str) -> bool:
    """True for the official endpoint and for OPENAI_BASE_URL's origin (scheme, host and port): the only
    places OPENAI_API_KEY is sent."""
    homes = [OFFICIAL_URL] + ([os.environ["OPENAI_BASE_URL"]] if os.environ.get("OPENAI_BASE_URL") else [])
    return _origin(base_url) in {_origin(h) for h in homes}


def split_key_env(url: str) -> tuple[str, str | None]:
    """`http://host/v1?key_env=NAME` -> (`http://host/v1`, NAME); other query parameters stay in the URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [v for k, v in query if k == "key_env"]
    if not names:
        return url, None
    if len(names) > 1 or not ENV_NAME.fullmatch(names[0]):
        raise UserError("key_env must name one environment variable (letters, digits and _), never hold a key",
                        setting="model")
    rest = urlencode([(k, v) for k, v in query if k != "key_env"])
    return urlunsplit(parts._replace(query=rest)), names[0]


def key_for(base_url: str, key_env: str | None) -> str | None:
    """The key this endpoint may have: its own by name (key_env), else OPENAI_API_KEY at home, else none."""
    if key_env is None:
        return (os.environ.get("OPENAI_API_KEY") or None) if is_home(base_url) else None
    if key_env == "OPENAI_API_KEY" and not is_home(base_url):
        raise UserError("OPENAI_API_KEY is sent only to api.openai.com or OPENAI_BASE_URL's host; give this "
                        "endpoint its own key variable (?key_env=NAME)", setting="model")
    _key_names.add(key_env)
    value = secret_value(key_env)
    if not value:
        raise UserError(f"{key_env} (named by key_env) is not set in the environment or .streamlit/secrets.toml",
                        setting="model")
    _key_values.add(value)
    return value


def mask(text: object, limit: int | None = 500) -> str:
    """Error or body text fit to store or show: every configured key replaced by *** BEFORE the text is
    made one line and cut to `limit` characters, so no cut can leave part of a key behind."""
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    values = {os.environ.get(name) for name in _key_names} | _key_values
    for value in sorted(filter(None, values), key=len, reverse=True):  # a key inside a longer key: longer first
        if len(value) >= 4:
            text = text.replace(value, "***")
    text = " ".join(text.split())
    return text if limit is None else text[:limit]


def endpoint_spec(model: str, base_url: str, key_name: str = "") -> str:
    """The spec of an endpoint saved on the Models page: `openai:MODEL@URL`, plus `?key_env=NAME` when it has
    a key of its own. Only the variable's NAME is kept, never a key."""
    model, base_url, key_name = model.strip(), base_url.strip().rstrip("/"), key_name.strip()
    if not model or not base_url.startswith(("http://", "https://")):
        raise UserError("give a model name and a base URL starting with http:// or https://", "endpoint")
    if key_name:
        if not ENV_NAME.fullmatch(key_name) or key_name in {os.environ.get(n) for n in _key_names} | _key_values:
            raise UserError("the key variable is the NAME of an environment variable (letters, digits and _), "
                            "never the key itself", "endpoint")
        if key_name == "OPENAI_API_KEY" and not is_home(base_url):
            raise UserError("OPENAI_API_KEY is sent only to api.openai.com or OPENAI_BASE_URL's host", "endpoint")
        base_url += ("&" if urlsplit(base_url).query else "?") + urlencode({"key_env": key_name})
    return f"openai:{model}@{base_url}"
