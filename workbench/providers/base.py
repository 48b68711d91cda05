"""The provider protocol: chat messages + generation parameters -> a Completion.

A provider is addressed by a spec string a user can type (``openai:gpt-4o-mini``,
``openai:my-model@http://127.0.0.1:8000/v1``, ``hf:models/support-tiny``). It declares how many
requests may be in flight and whether it generates in batches (local models do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.surrogates import storable

Messages = list[dict[str, str]]

# Error kinds stored with failed outputs; `workbench show` counts them.
ERROR_KINDS = ("rate_limit", "timeout", "server_error", "bad_response", "connection", "bad_request", "other")


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
    """Base class. Subclasses implement `complete` (API models) or `complete_batch` (local models)."""

    spec: str = ""
    max_concurrency: int = 8  # requests in flight; the runner's -j overrides it
    batch_size: int = 1  # >1: the runner hands `complete_batch` lists of pending rows

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
