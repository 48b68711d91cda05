"""OpenAI and every OpenAI-compatible server (vLLM, TGI, Ollama, llama.cpp, LM Studio).

Spec: ``openai:MODEL`` or ``openai:MODEL@BASE_URL``. The key comes from OPENAI_API_KEY (or
.streamlit/secrets.toml through the app's environment); a base URL on this machine needs none.
Retries (with backoff that honours Retry-After) are the openai SDK's own.
"""

from __future__ import annotations

import os
import time
from typing import Any

import openai

from workbench.errors import UserError
from workbench.providers.base import Completion, Messages, Provider, ProviderError

PARAMS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
          "presence_penalty", "frequency_penalty", "response_format", "logit_bias", "n")


class OpenAIProvider(Provider):
    batch_size = 1

    def __init__(self, rest: str, *, retries: int = 2, timeout: float = 60.0, concurrency: int | None = None, **_):
        model, _, base_url = rest.partition("@")
        if not model:
            raise UserError(f"no model name in spec 'openai:{rest}'", "--model")
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.spec = f"openai:{rest}"
        key = os.environ.get("OPENAI_API_KEY")
        if not key and not self.base_url:
            raise UserError("OPENAI_API_KEY is not set (or give a base URL: openai:MODEL@http://host:port/v1)", "--model")
        self._key = key or "unused"  # local OpenAI-compatible servers accept any key
        self.max_concurrency = concurrency or 16
        self.client = openai.AsyncOpenAI(api_key=self._key, base_url=self.base_url, max_retries=retries,
                                         timeout=timeout)

    def identity(self) -> dict[str, Any]:
        return {"kind": "openai", "model": self.model, "base_url": self.base_url or "https://api.openai.com/v1"}

    async def complete(self, messages: Messages, params: dict[str, Any]) -> Completion:
        kwargs = {k: v for k, v in params.items() if k in PARAMS and v is not None}
        start = time.perf_counter()
        try:
            resp = await self.client.chat.completions.create(model=self.model, messages=messages, **kwargs)
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
        except (ValueError, TypeError) as e:  # a 200 whose body is not a chat completion
            raise ProviderError("bad_response", self._clean(e)) from None
        latency = (time.perf_counter() - start) * 1000
        try:
            choice = resp.choices[0]
            text = choice.message.content or ""
        except (AttributeError, IndexError, TypeError):
            raise ProviderError("bad_response", "response has no choices[0].message") from None
        usage = getattr(resp, "usage", None)
        return Completion(
            text=text,
            finish_reason=choice.finish_reason,
            tokens_in=getattr(usage, "prompt_tokens", None),
            tokens_out=getattr(usage, "completion_tokens", None),
            latency_ms=latency,
            raw=None,
        )

    def _clean(self, e: Exception) -> str:
        """One line, never the key."""
        msg = " ".join(str(e).split())[:500]
        return msg.replace(self._key, "***") if self._key != "unused" else msg

    async def aclose(self) -> None:
        await self.client.close()
