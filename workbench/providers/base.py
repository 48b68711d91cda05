"""The provider contract: chat messages + generation parameters -> a Completion.

A provider is addressed by a spec string a user can type (``openai:gpt-4o-mini``,
``openai:my-model@http://127.0.0.1:8000/v1``, ``hf:models/support-tiny``): the kind before the colon
picks the class (entry-point group ``workbench.providers``), the rest goes to its constructor.

Write one method: ``complete`` (one request at a time; the runner keeps ``max_concurrency`` of them in
flight) or ``complete_batch`` (a list at once, ``batch_size`` long; local models). A class that
writes neither cannot be instantiated. Options a provider accepts are declared in ``options``
(name -> converter such as ``int``); anything else is refused by name before the constructor runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from workbench.errors import UserError
from workbench.surrogates import storable

Messages = list[dict[str, str]]

# Error kinds stored with failed outputs; `workbench show` counts them.
ERROR_KINDS = ("rate_limit", "timeout", "server_error", "bad_response", "connection", "bad_request", "other")
# Settings the engine hands every provider (from -j, --timeout, --retries, --rpm, --tpm). A provider gets
# those it declares in `options`; the others do not apply to it (a local model has no rate limit).
ENGINE_OPTIONS = ("timeout", "retries", "rpm", "tpm", "concurrency")


@dataclass
class Completion:
    text: str
    finish_reason: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: float | None = None
    cost: float | None = None
    raw: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.text = storable(self.text)
        if self.finish_reason is not None:
            self.finish_reason = storable(str(self.finish_reason))


class ProviderError(Exception):
    """A request that failed for good (after the provider's own retries); stored on its row."""

    def __init__(self, kind: str, message: str):
        assert kind in ERROR_KINDS, kind
        self.kind = kind
        self.message = storable(message)
        super().__init__(f"{kind}: {message}")


class Provider:
    """Base class of every provider; subclasses write `complete` or `complete_batch`, not both."""

    spec: str = ""
    max_concurrency: int = 8  # requests in flight; the runner's -j overrides it
    batch_size: int = 1  # >1: the runner hands `complete_batch` lists of pending rows
    stateful: bool = False  # keeps state per conversation (a bot's sender id): turns go in order
    # Keyword options the constructor takes: name -> converter (int, float, str or any callable that
    # raises ValueError/TypeError on a bad value). Values arrive as given, or as text from a spec's query.
    options: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    def __new__(cls, *args, **kwargs):
        if cls.complete is Provider.complete and cls.complete_batch is Provider.complete_batch:
            # Each default is written in terms of the other: with neither overridden they would recurse.
            raise TypeError(f"{cls.__name__} must implement complete() (one request at a time) or "
                            "complete_batch() (a list of requests at once)")
        return super().__new__(cls)

    async def complete(self, messages: Messages, params: dict[str, Any]) -> Completion:
        (result,) = await self.complete_batch([messages], params)
        if isinstance(result, ProviderError):
            raise result
        return result

    async def complete_batch(self, batch: list[Messages], params: dict[str, Any]) -> list[Completion | ProviderError]:
        out: list[Completion | ProviderError] = []
        for messages in batch:
            try:
                out.append(await self.complete(messages, params))
            except ProviderError as e:
                out.append(e)
        return out

    def identity(self) -> dict[str, Any]:
        """What makes two requests to this provider interchangeable (for the response cache)."""
        return {"spec": self.spec}

    async def aclose(self) -> None:
        return None

    @classmethod
    def check_options(cls, given: dict[str, Any], kind: str, setting: str = "model",
                      engine: bool = True) -> dict[str, Any]:
        """The options this class declares, converted; an undeclared one is a UserError naming the accepted
        ones. With `engine`, engine-wide settings it does not declare are dropped; a None (not given) is."""
        out: dict[str, Any] = {}
        for name, value in given.items():
            if name not in cls.options:
                if engine and name in ENGINE_OPTIONS:
                    continue
                accepted = ", ".join(sorted(cls.options)) or "none"
                raise UserError(f"unknown option {name!r} for {kind}: models (accepted: {accepted})", setting=setting)
            if value is None:
                continue
            try:
                out[name] = cls.options[name](value)
            except (TypeError, ValueError) as e:
                raise UserError(f"bad value {value!r} for option {name!r} of {kind}: models ({e})", setting=setting) from None
        return out


def split_query(rest: str, cls: type[Provider], kind: str, setting: str = "model") -> tuple[str, dict[str, Any]]:
    """``PATH?name=value&...`` -> (PATH, the options checked against what `cls` declares)."""
    target, _, query = rest.partition("?")
    return target, cls.check_options(dict(parse_qsl(query, keep_blank_values=True)), kind, setting, engine=False)
