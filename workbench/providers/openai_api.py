"""OpenAI and every OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, LM Studio).

Spec: ``openai:MODEL`` or ``openai:MODEL@BASE_URL[?key_env=NAME]``. OPENAI_API_KEY (environment or
.streamlit/secrets.toml) is sent only to api.openai.com or to OPENAI_BASE_URL's host; another base URL
gets the key in the variable it names with ``key_env``, or no key at all (see providers/keys.py).
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

from workbench.defaults import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S
from workbench.errors import UserError
from workbench.providers import keys
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

    def __init__(self, rest: str, *, retries: int = DEFAULT_RETRIES, timeout: float = DEFAULT_TIMEOUT_S,
                 concurrency: int | None = None, rpm: float | None = None, tpm: float | None = None):
        model, _, base_url = rest.partition("@")
        if not model:
            raise UserError(f"no model name in spec 'openai:{rest}'", setting="model")
        if retries < 0:
            raise UserError("must be 0 or more", setting="retries")
        if timeout <= 0:
            raise UserError("must be more than 0 seconds", setting="timeout")
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and value <= 0:
                raise UserError("must be more than 0", setting=name)
        self.model = model
        base_url, key_env = keys.split_key_env(base_url) if base_url else (None, None)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.spec = f"openai:{rest}"
        # The key goes only where it belongs: OPENAI_API_KEY to the official endpoint or OPENAI_BASE_URL's
        # host, any other endpoint only the key it names (?key_env=NAME); the rest get no Authorization.
        self._key = keys.key_for(self.base_url or keys.OFFICIAL_URL, key_env)
        if not self._key and not self.base_url:
            raise UserError("OPENAI_API_KEY is not set (or give a base URL: openai:MODEL@http://host:port/v1)", setting="model")
        # nor does a foreign host get the organisation and project ids the SDK reads from the environment
        away = () if keys.is_home(self.base_url or keys.OFFICIAL_URL) else ("OpenAI-Organization", "OpenAI-Project")
        self._headers = {name: openai.Omit() for name in (*away, *(() if self._key else ("Authorization",)))}
        self.max_concurrency = concurrency or 16
        self._refuses_response_format = False  # learnt from a 400 to a request with `json_fallback` (judges)
        self.retries = retries
        self.limiter = RateLimiter(rpm, tpm)
        self.client = openai.AsyncOpenAI(api_key=self._key or "unused", base_url=self.base_url or keys.OFFICIAL_URL,
                                         max_retries=retries, timeout=timeout)

    def identity(self) -> dict[str, Any]:
        return {"kind": "openai", "model": self.model, "base_url": self.base_url or "https://api.openai.com/v1"}

    async def complete(self, messages: Messages, params: dict[str, Any]) -> Completion:
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        body.update((k, v) for k, v in params.items() if k in PARAMS and v is not None)
        # `json_fallback` (judges): structured output where the server has it; a server that refuses
        # response_format (HTTP 400) gets the request again without it, and every later one without it.
        if params.get("json_fallback") and "response_format" in body:
            if self._refuses_response_format:
                body.pop("response_format")
            else:
                try:
                    return await self._complete(body, messages, params)
                except ProviderError as e:
                    if e.kind != "bad_request":
                        raise
                plain = {k: v for k, v in body.items() if k != "response_format"}
                completion = await self._complete(plain, messages, params)  # refused for another reason: raises
                self._refuses_response_format = True
                return completion
        return await self._complete(body, messages, params)

    async def _complete(self, body: dict[str, Any], messages: Messages, params: dict[str, Any]) -> Completion:
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
            return await self.client.post("/chat/completions", body=body, cast_to=bytes,
                                          options={"headers": self._headers})
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
        """A chat completion from the body, every field checked: a malformed reply is this row's
        bad_response, never an exception that fails the batch or the run."""
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ProviderError("bad_response", f"response is not JSON: {self._clean(raw, 200)}") from None
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            if not isinstance(text, str):
                raise TypeError("content is not a string")
        except (KeyError, IndexError, TypeError) as e:
            error = data.get("error") if isinstance(data, dict) else None
            detail = f": {error.get('message', error)}" if isinstance(error, dict) else f" ({type(e).__name__}: {e})"
            raise ProviderError("bad_response", self._clean(f"response has no choices[0].message.content{detail}")) from None
        finish = choice.get("finish_reason")
        if finish is not None and not (isinstance(finish, str) and len(finish) <= 100):
            raise ProviderError("bad_response", self._clean(f"finish_reason is not a short string: {finish!r}"))
        usage = data.get("usage")
        if usage is not None and not isinstance(usage, dict):
            raise ProviderError("bad_response", self._clean(f"usage is a {type(usage).__name__}, not an object"))
        usage = usage or {}
        return Completion(
            text=text,
            finish_reason=finish,
            tokens_in=_token_count(usage, "prompt_tokens"),
            tokens_out=_token_count(usage, "completion_tokens"),
            latency_ms=latency,
            raw=None,
        )

    @staticmethod
    def _clean(e: object, limit: int = 500) -> str:
        """One line, no key: masked before it is cut."""
        return keys.mask(e, limit)

    async def aclose(self) -> None:
        await self.client.close()


def _token_count(usage: dict[str, Any], name: str) -> int | None:
    """usage.NAME as a count the store can hold (a 32-bit INTEGER column), or None when absent."""
    value = usage.get(name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # some servers send 12.0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise ProviderError("bad_response", keys.mask(f"usage.{name} is {value!r} ({type(value).__name__}), "
                                                      "expected a whole number from 0 to 2,147,483,647", 300))
    return value
