"""A running Rasa assistant over its REST channel: ``rasa:URL`` (e.g. ``rasa:http://127.0.0.1:5005``).

Each row is sent as one user message to ``POST URL/webhooks/rest/webhook`` (``{"sender", "message"}``)
under a fresh sender id, so no two rows share a tracker (slots, history). The bot's messages are joined
in order, one per line; buttons and images are written as text (``[button: title]``, ``[image: url]``).
Only the last user message of a row is sent: a Rasa bot keeps its own history per sender.

Conversations: a call whose params carry ``conversation_id`` sends that turn under the sender
``wb-<this provider's session>-<conversation_id>``, so the turns of one conversation share a tracker
(in order: the provider is ``stateful``) and two conversations never do. The conversation runner passes
it; a plain eval passes none and every row is its own conversation.

The status endpoint (``GET URL/status``, served with ``--enable-api``; ``GET URL/`` otherwise) is asked
when the provider is made: nothing listening is one line, "no Rasa server at URL: start one with make
rasa". After that, failures are data: timeout, connection, server_error (5xx), bad_request (4xx) and
bad_response (a reply that is not a list of bot messages), after `retries` retries with backoff.
Standard library only: the workbench never imports Rasa (it runs in its own Python 3.10 environment).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from workbench.errors import UserError
from workbench.providers.base import Completion, Messages, Provider, ProviderError, split_query

WEBHOOK = "/webhooks/rest/webhook"
START_HINT = "start one with make rasa"


class RasaProvider(Provider):
    stateful = True
    options = {"retries": int, "timeout": float, "concurrency": int}

    def __init__(self, rest: str, *, retries: int | None = None, timeout: float | None = None,
                 concurrency: int | None = None):
        url, opts = split_query(rest, RasaProvider, "rasa")
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"expected rasa:http://HOST:PORT, got rasa:{rest}", setting="model")
        # the spec's own ?timeout=... wins over the engine-wide setting
        self.retries = _pick(opts.get("retries"), retries, 2)
        self.timeout = _pick(opts.get("timeout"), timeout, 30.0)
        self.max_concurrency = _pick(opts.get("concurrency"), concurrency, 8)
        if self.retries < 0 or self.timeout <= 0 or self.max_concurrency < 1:
            raise UserError("retries must be 0 or more, timeout and concurrency more than 0", setting="model")
        self.spec = f"rasa:{rest}"
        self._parts = parts
        self._session = uuid.uuid4().hex[:12]
        self.status = server_status(self.url, min(self.timeout, 5.0))
        if self.status is None:
            raise UserError(f"no Rasa server at {self.url}: {START_HINT}", setting="model")
        # Blocking HTTP in our own threads, one keep-alive connection each: the loop never waits on a socket.
        self._pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="rasa")
        self._local = threading.local()

    def identity(self) -> dict[str, Any]:
        # The trained model is part of what an answer depends on: a retrained bot is not served from the cache.
        return {"kind": "rasa", "url": self.url, "model": self.status.get("model_id") or self.status.get("model_file")}

    def sender_for(self, params: dict[str, Any]) -> tuple[str, bool]:
        """(sender id, whether it is a conversation's): a fresh one per row unless a conversation is named."""
        conversation = params.get("conversation_id")
        if conversation is None:
            return f"wb-{self._session}-{uuid.uuid4().hex[:12]}", False
        return f"wb-{self._session}-{conversation}", True

    async def complete(self, messages: Messages, params: dict[str, Any]) -> Completion:
        text = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), None)
        if text is None:
            raise ProviderError("bad_request", "no user message to send to the Rasa bot")
        loop = asyncio.get_running_loop()
        for attempt in range(self.retries + 1):
            # a retried row starts again under a fresh sender: a half-handled message leaves no trace in it
            sender, in_conversation = self.sender_for(params)
            body = json.dumps({"sender": sender, "message": text}).encode()
            start = time.perf_counter()
            try:
                status, raw = await loop.run_in_executor(self._pool, self._post, body)
                if status >= 500:
                    raise ProviderError("server_error", f"HTTP {status}: {_short(raw)}")
                if status >= 400:
                    raise ProviderError("bad_request", f"HTTP {status}: {_short(raw)}")
                return Completion(text=bot_text(raw), finish_reason="stop", latency_ms=(time.perf_counter() - start) * 1000,
                                  raw={"sender": sender})
            except ProviderError as e:
                # A conversation's turn may have reached the tracker before the failure: sending it again
                # would say it twice. Only a refused connection (nothing sent) is retried there.
                retry = e.kind in ("server_error", "timeout", "connection", "bad_response")
                if in_conversation and not e.message.startswith("refused"):
                    retry = False
                if not retry or attempt == self.retries:
                    raise
                await asyncio.sleep(min(0.25 * 2 ** attempt, 4.0))
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        con = getattr(self._local, "con", None)
        if con is None:
            cls = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
            con = self._local.con = cls(self._parts.hostname, self._parts.port, timeout=self.timeout)
        return con

    def _post(self, body: bytes) -> tuple[int, bytes]:
        """One request in a pool thread: (status, body), or a ProviderError of its kind."""
        con = self._connection()
        path = (self._parts.path or "") + WEBHOOK
        try:
            try:
                con.request("POST", path, body, {"Content-Type": "application/json"})
            except (ConnectionRefusedError, socket.gaierror) as e:
                raise ProviderError("connection", f"refused: {self.url}: {e}") from None
            except (http.client.HTTPException, ConnectionError):
                con.close()  # a kept-alive connection the server had closed: one fresh try
                con.request("POST", path, body, {"Content-Type": "application/json"})
            response = con.getresponse()
            return response.status, response.read()
        except ProviderError:
            con.close()
            raise
        except TimeoutError:
            con.close()
            raise ProviderError("timeout", f"no answer from {self.url} within {self.timeout:g} s") from None
        except (OSError, http.client.HTTPException) as e:
            con.close()
            raise ProviderError("connection", f"{self.url}: {type(e).__name__}: {e}") from None

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False)


def bot_text(raw: bytes) -> str:
    """The REST channel's reply (a JSON list of bot messages) as one text; anything else is bad_response."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ProviderError("bad_response", f"reply is not JSON: {_short(raw)}") from None
    if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
        raise ProviderError("bad_response", f"reply is not a list of bot messages: {_short(raw)}")
    lines: list[str] = []
    for m in data:
        if isinstance(m.get("text"), str):
            lines.append(m["text"])
        for button in m.get("buttons") or []:
            if isinstance(button, dict):
                lines.append(f"[button: {button.get('title') or button.get('payload') or ''}]")
        if m.get("image"):
            lines.append(f"[image: {m['image']}]")
        if m.get("attachment"):
            lines.append(f"[attachment: {m['attachment']}]")
        if m.get("custom") is not None:
            lines.append(f"[custom: {json.dumps(m['custom'], ensure_ascii=False)}]")
    return "\n".join(lines)


def server_status(url: str, timeout: float = 3.0) -> dict[str, Any] | None:
    """Rasa's status (``{"model_file": ..., ...}``), ``{}`` for a server without the HTTP API, or None when
    no Rasa server answers at `url` (nothing listening, or something that is not Rasa)."""
    parts = urlsplit(url.rstrip("/"))
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        for path in ("/status", "/"):
            con = cls(parts.hostname or "", parts.port, timeout=timeout)
            try:
                con.request("GET", (parts.path or "") + path)
                response = con.getresponse()
                body = response.read()
            finally:
                con.close()
            if response.status == 200 and path == "/status":
                try:
                    data = json.loads(body)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    return data
            if response.status == 200 and path == "/" and body.startswith(b"Hello from Rasa"):
                return {}
    except (OSError, http.client.HTTPException):
        return None
    return None


def _pick(first, second, default):
    return first if first is not None else second if second is not None else default


def _short(raw: bytes | str, limit: int = 200) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
