"""Provider registry. SDKs are imported only when their provider is built, so an API-only eval
never loads torch and `workbench --help` loads nothing."""

from __future__ import annotations

import importlib

from workbench.errors import UserError
from workbench.providers.base import Completion, Messages, Provider, ProviderError

__all__ = ["Completion", "Messages", "Provider", "ProviderError", "make_provider", "split_spec", "KINDS"]

# prefix -> (module, class); the module is imported on first use
KINDS: dict[str, tuple[str, str]] = {
    "openai": ("workbench.providers.openai_api", "OpenAIProvider"),
    "hf": ("workbench.providers.hf", "HFProvider"),
}


def split_spec(spec: str) -> tuple[str, str]:
    kind, sep, rest = spec.partition(":")
    if not sep or not rest or kind not in KINDS:
        known = ", ".join(f"{k}:..." for k in KINDS)
        raise UserError(f"unknown model spec {spec!r} (expected one of {known})", "--model")
    return kind, rest


def make_provider(spec: str, **options) -> Provider:
    kind, rest = split_spec(spec)
    module, cls = KINDS[kind]
    provider_cls = getattr(importlib.import_module(module), cls)
    return provider_cls(rest, **options)
