"""Who may open the app: the rules, without Streamlit (the CLI checks them before starting the server,
and the app again before drawing any page).

- On 127.0.0.1 / localhost / ::1 the app is the user's own: no login unless one is configured.
- On any other address it must have authentication: Streamlit's OIDC login (`st.login`) when
  .streamlit/secrets.toml has an `[auth]` section, else a shared password (WORKBENCH_PASSWORD, or
  `password = "..."` in secrets.toml) typed once per browser session.
- `--annotate-only` (WORKBENCH_ANNOTATE_ONLY=1) serves the Annotate page alone, for outside raters.
"""

from __future__ import annotations

import hmac
import importlib.util
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.errors import UserError

PASSWORD_ENV = "WORKBENCH_PASSWORD"
ANNOTATE_ONLY_ENV = "WORKBENCH_ANNOTATE_ONLY"
MIN_PASSWORD = 8
OIDC_KEYS = ("redirect_uri", "cookie_secret")


def is_loopback(address: str) -> bool:
    """True for addresses only this machine can reach; a host name other than localhost counts as shared."""
    address = (address or "").strip().strip("[]")
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def secret_files(cwd: Path | None = None) -> list[Path]:
    """Streamlit's secrets files, in the order it merges them (the project's file wins)."""
    return [Path.home() / ".streamlit" / "secrets.toml", (cwd or Path.cwd()) / ".streamlit" / "secrets.toml"]


def read_secrets(files: list[Path] | None = None) -> dict[str, Any]:
    """The merged secrets, as Streamlit will see them; a file that cannot be parsed is a UserError."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: secrets from the environment only (WORKBENCH_PASSWORD)
        return {}
    merged: dict[str, Any] = {}
    for path in files if files is not None else secret_files():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        try:
            merged.update(tomllib.loads(text))
        except tomllib.TOMLDecodeError as e:
            raise UserError(f"cannot read it as TOML: {e}", str(path)) from None
    return merged


def auth_mode(secrets: Mapping[str, Any], env: Mapping[str, str] | None = None) -> str | None:
    """"oidc" when secrets has an [auth] section, "password" when a shared password is set, else None."""
    env = os.environ if env is None else env
    if isinstance(secrets.get("auth"), Mapping) and secrets["auth"]:
        return "oidc"
    if shared_password(secrets, env):
        return "password"
    return None


def shared_password(secrets: Mapping[str, Any], env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    value = env.get(PASSWORD_ENV) or secrets.get("password")
    return str(value) if value else None


def check_serving(address: str, secrets: Mapping[str, Any], env: Mapping[str, str] | None = None) -> str | None:
    """Refuse (UserError) to serve beyond this machine without working authentication; the mode in use."""
    mode = auth_mode(secrets, env)
    if mode == "oidc":
        auth = secrets["auth"]
        missing = [k for k in OIDC_KEYS if not auth.get(k)]
        if missing:
            raise UserError(f"[auth] lacks {', '.join(missing)} (see the README's 'Sharing the app')",
                            ".streamlit/secrets.toml")
        if importlib.util.find_spec("authlib") is None:
            raise UserError("OIDC login needs Authlib: pip install 'workbench[auth]'", ".streamlit/secrets.toml")
    elif mode == "password" and len(shared_password(secrets, env)) < MIN_PASSWORD:
        raise UserError(f"the shared password must have at least {MIN_PASSWORD} characters", PASSWORD_ENV)
    if mode is None and not is_loopback(address):
        raise UserError(f"serving on {address} lets anyone on the network in: set {PASSWORD_ENV} (or `password` "
                        "in .streamlit/secrets.toml) or an [auth] OIDC provider first, or use 127.0.0.1",
                        setting="address")
    return mode


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison: the time taken says nothing about how much of the password was right."""
    return hmac.compare_digest((given or "").encode("utf-8"), (expected or "").encode("utf-8"))


def annotate_only(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(ANNOTATE_ONLY_ENV, "") not in ("", "0")
