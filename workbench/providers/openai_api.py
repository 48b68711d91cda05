"""OpenAI and every OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, LM Studio).

Spec: ``openai:MODEL`` or ``openai:MODEL@BASE_URL``. The key comes from OPENAI_API_KEY (or
.streamlit/secrets.toml through the app's environment); a base URL on this machine needs none.
Retries (exponential backoff with jitter that honours Retry-After) are the openai SDK's own; each
request has a timeout; --rpm/--tpm budgets are shared by every request to this provider.
Failures that remain after the retries become ProviderError kinds: rate_limit (429), timeout,
connection (refused, reset, dropped), server_error (5xx), bad_request (other 4xx) and
bad_response (a 200 that is not a chat completion).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import openai

from workbench.errors import UserError
from workbench.providers.base import Completion, Messages, Provider, ProviderError
from workbench.providers.ratelimit import RateLimiter, estimate_tokens

PARAMS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
          "presence_penalty", "frequency_penalty", "response_format", "logit_bias", "n")


class OpenAIProvider(Provider):
    """Requests go through the SDK's generic ``client.post`` so that its retries (exponential backoff
    with jitter, honouring Retry-After and retry-after-ms), timeouts and connection pool apply, while
    the body is sent as the plain JSON it already is: the typed ``chat.completions.create`` walks every
    message through the SDK's TypedDict transform and builds pydantic models for the reply, ~2 ms of
    CPU per request that made a 1000-row run CPU-bound in this process rather than waiting on the server.
    """

    batch_size = 1
    options = {"retries": int, "timeout": float, "concurrency": int, "rpm": float, "tpm": float}

    def __init__(self, rest: str, *, retries: int = 2, timeout: float = 60.0, concurrency: int | None = None,
                 rpm: float | None = None, tpm: float | None = None):
        model, _, base_url = rest.partition("@")
        if not model:
            raise UserError(f"no model name in spec 'openai:{rest}'", "--model")
        if retries < 0:
            raise UserError("must be 0 or more", "--retries")
        if timeout <= 0:
            raise UserError("must be more than 0 seconds", "--timeout")
        for name, value in (("--rpm", rpm), ("--tpm", tpm)):
            if value is not None and value <= 0:
                raise UserError("must be more than 0", name)
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.spec = f"openai:{rest}"
        key = os.environ.get("OPENAI_API_KEY")
        if not key and not self.base_url:
            raise UserError("OPENAI_API_KEY is not set (or give a base URL: openai:MODEL@http://host:port/v1)", "--model")
        self._key = key or "unused"  # local OpenAI-compatible servers accept any key
        self.max_concurrency = concurrency or 16
        self.retries = retries
        self.limiter = RateLimiter(rpm, tpm)
        self.client = openai.AsyncOpenAI(api_key=self._key, base_url=self.base_url, max_retries=retries,
                                         timeout=timeout)

    def identity(self) -> dict[str, Any]:
        return {"kind": "openai", "model": self.model, "base_url": self.base_url or "https://api.openai.com/v1"}

    async def complete(self, messages: Messages, params: dict[str, Any]) -> Completion:
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        body.update((k, v) for k, v in params.items() if k in PARAMS and v is not None)
        estimate = 0
        if self.limiter:
            estimate = estimate_tokens(messages, params.get("max_tokens") or params.get("max_completion_tokens"))
        # A 200 whose body is not a chat completion is not retried by the SDK (to it the request
        # succeeded); a garbled body is usually transient, so it gets the same number of retries.
        for attempt in range(self.retries + 1):
            if self.limiter:
                await self.limiter.acquire(estimate)
            start = time.perf_counter()
            raw = await self._post(body)
            latency = (time.perf_counter() - start) * 1000
            try:
                completion = self._parse(raw, latency)
            except ProviderError:
                if attempt == self.retries:
                    raise
                continue
            if self.limiter:
                used = (completion.tokens_in or 0) + (completion.tokens_out or 0) if completion.tokens_in else None
                self.limiter.settle(estimate, used)
            return completion
        raise AssertionError("unreachable")

    async def _post(self, body: dict[str, Any]) -> bytes:
        try:
            return await self.client.post("/chat/completions", body=body, cast_to=bytes)
        except openai.RateLimitError as e:
            raise ProviderError("rate_limit", self._clean(e)) from None
        except openai.APITimeoutError as e:
            raise ProviderError("timeout", self._clean(e)) from None
        except openai.APIConnectionError as e:
            raise ProviderError("connection", self._clean(e)) from None
        except openai.APIResponseValidationError as e:
            raise ProviderError("bad_response", self._clean(e)) from None
        except openai.APIStatusError as e:
            kind = "server_error" if e.status_code >= 500 else "bad_request"
            raise ProviderError(kind, f"HTTP {e.status_code}: {self._clean(e)}") from None
        except openai.APIError as e:
            raise ProviderError("other", self._clean(e)) from None

    def _parse(self, raw: bytes, latency: float) -> Completion:
        try:
            data = json.loads(raw)
        except ValueError:
            raise ProviderError("bad_response", f"response is not JSON: {self._clean(raw[:200])}") from None
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            if not isinstance(text, str):
                raise TypeError("content is not a string")
        except (KeyError, IndexError, TypeError) as e:
            error = data.get("error") if isinstance(data, dict) else None
            detail = f": {error.get('message', error)}" if isinstance(error, dict) else f" ({type(e).__name__}: {e})"
            raise ProviderError("bad_response", self._clean(f"response has no choices[0].message.content{detail}")) from None
        usage = data.get("usage") or {}
        return Completion(
            text=text,
            finish_reason=choice.get("finish_reason"),
            tokens_in=usage.get("prompt_tokens"),
            tokens_out=usage.get("completion_tokens"),
            latency_ms=latency,
            raw=None,
        )

    def _clean(self, e: object) -> str:
        """One line, never the key."""
        text = e.decode("utf-8", "replace") if isinstance(e, bytes) else str(e)
        msg = " ".join(text.split())[:500]
        return msg.replace(self._key, "***") if self._key != "unused" else msg

    async def aclose(self) -> None:
        await self.client.close()
