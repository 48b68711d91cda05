"""Providers: the contract (base.Provider) and the registry of kinds (entry-point group
``workbench.providers``). A kind's module, and so its SDK, is imported only when a spec of that kind
is used: an API-only eval never loads torch and `workbench --help` loads nothing."""

from __future__ import annotations

from workbench.errors import UserError
from workbench.plugins import Registry
from workbench.providers.base import Completion, Messages, Provider, ProviderError, split_query

__all__ = ["Completion", "Messages", "Provider", "ProviderError", "REGISTRY", "kinds", "make_provider",
           "provider_class", "split_query", "split_spec"]

# The built-ins, as pyproject.toml declares them (see Registry for why they are also written here).
BUILTIN = {
    "openai": "workbench.providers.openai_api:OpenAIProvider",
    "hf": "workbench.providers.hf:HFProvider",
    "rasa": "workbench.providers.rasa:RasaProvider",
    "chatterbot": "workbench.providers.chatterbot_bot:ChatterBotProvider",
}
REGISTRY = Registry("workbench.providers", BUILTIN, "model kind")


def kinds() -> list[str]:
    return REGISTRY.names()


def split_spec(spec: str) -> tuple[str, str]:
    """``kind:rest`` -> (kind, rest) for a registered kind."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest or kind not in REGISTRY:
        known = ", ".join(f"{k}:..." for k in kinds())
        raise UserError(f"unknown model spec {spec!r} (expected one of {known})", setting="model")
    return kind, rest


def provider_class(kind: str) -> type[Provider]:
    cls = REGISTRY.load(kind, "model")
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise UserError(f"model kind {kind!r} is registered as {cls!r}, which is not a Provider class", setting="model")
    return cls


def make_provider(spec: str, **options) -> Provider:
    """The provider for `spec`; `options` are checked against what its class declares."""
    kind, rest = split_spec(spec)
    cls = provider_class(kind)
    return cls(rest, **cls.check_options(options, kind))
