"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

Tests and benchmarks point the official `openai` client at it, exercising the same code path users
run against vLLM, Ollama or llama.cpp. It is asyncio-based with HTTP/1.1 keep-alive so that it is
never the bottleneck of a benchmark. Behaviour is set by `reply` (messages -> text), `latency`
(seconds per request) and `fault` (request number, body -> a fault or None) for fault tests.

Run standalone: python tests/openai_server.py --port 8000 --latency 0.05 [--answers datasets/x.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """What to do instead of answering: status 429/500/..., `slow` seconds, `drop` the connection, `garbage` JSON,
    `body` (these bytes, with `status` or 200, e.g. an error page that echoes a header), or `patch` (answer, with
    these top-level fields of the reply replaced, e.g. a malformed `usage`)."""

    status: int = 0
    retry_after: float | None = None
    slow: float = 0.0
    drop: bool = False
    garbage: bool = False
    body: bytes | None = None
    patch: dict[str, Any] | None = None


def echo_reply(messages: list[dict[str, str]]) -> str:
    last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return f"You said: {last}"


def answers_from_jsonl(path: str, question: str = "question", answer: str = "reference") -> Callable:
    """A reply function that answers known questions with their reference (as a perfect model would)."""
    table = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                table[str(row[question]).strip()] = str(row[answer])

    def reply(messages: list[dict[str, str]]) -> str:
        last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
        for prefix in ("Customer: ", "顾客："):
            last = last.removeprefix(prefix)
        return table.get(last.strip(), echo_reply(messages))

    return reply


def is_judge_request(messages: list[dict[str, str]]) -> bool:
    """A request from a judge (workbench.authoring.rubrics): its system message sets up an evaluator."""
    return bool(messages) and messages[0].get("role") == "system" and (
        "evaluator" in messages[0].get("content", "") or "评审" in messages[0].get("content", ""))


def judged_fields(messages: list[dict[str, str]]) -> dict[str, str]:
    """The labelled parts of a judge's user message: `Answer to judge: ...` -> {"Answer to judge": ...};
    a pairwise request's `[Answer A]` / `[Answer B]` blocks as "A" and "B"."""
    text = messages[-1].get("content", "")
    out: dict[str, str] = {}
    for block in text.split("\n\n"):
        head, sep, rest = block.partition(": ")
        if sep and "\n" not in head:
            out[head.strip()] = rest.strip()
    for side in ("A", "B"):
        start = text.find(f"[Answer {side}]\n")
        if start >= 0:
            body = text[start + len(f"[Answer {side}]\n"):]
            out[side] = body.split("\n\n[Answer ")[0].strip()
    return out


def judge_reply(judge: Callable[[dict[str, str], list[dict[str, str]]], str],
                answer: Callable[[list[dict[str, str]]], str] = echo_reply) -> Callable:
    """A reply function that answers plain requests with `answer` and plays the judge with `judge`
    (fields of the judged message, messages -> the reply text, JSON or not)."""
    def reply(messages: list[dict[str, str]]) -> str:
        return judge(judged_fields(messages), messages) if is_judge_request(messages) else answer(messages)

    return reply


@dataclass
class OpenAIServer:
    reply: Callable[[list[dict[str, str]]], str] = echo_reply
    latency: float = 0.0
    fault: Callable[[int, dict[str, Any]], Fault | None] | None = None
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    record: bool = True
    # (monotonic arrival time, request number) per chat request, and the most requests seen at once
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def __post_init__(self):
        self._counter = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> OpenAIServer:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self.port, backlog=1024))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop and self._server:
            async def close():
                self._server.close()
                # end handlers still sleeping (slow faults, latency) so none is left to a closed loop
                pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for t in pending:
                    t.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- HTTP ----------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                keep = await self._respond(method, path, headers, body, writer)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _respond(self, method, path, headers, body, writer) -> bool:
        if method == "GET" and path.rstrip("/").endswith("/models"):
            return await self._send(writer, 200, {"object": "list", "data": [{"id": "test", "object": "model"}]})
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            return await self._send(writer, 404, {"error": {"message": f"no route {method} {path}"}})
        try:
            req = json.loads(body)
        except ValueError:
            return await self._send(writer, 400, {"error": {"message": "body is not JSON", "type": "invalid_request"}})
        n = next(self._counter)
        if self.record:
            self.requests.append(req)
            self.headers_seen.append(headers)
            self.arrivals.append((time.monotonic(), n))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(n, req, writer)
        finally:
            self.in_flight -= 1

    async def _answer(self, n: int, req: dict[str, Any], writer) -> bool:
        fault = self.fault(n, req) if self.fault else None
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault:
            if fault.slow:
                await asyncio.sleep(fault.slow)
            if fault.drop:
                writer.transport.abort()
                return False
            if fault.garbage:
                return await self._send(writer, 200, b'{"id": "x", "choices": [{"mess')
            if fault.body is not None:
                return await self._send(writer, fault.status or 200, fault.body)
            if fault.status:
                extra = {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                return await self._send(writer, fault.status, {"error": {"message": f"injected {fault.status}"}}, extra)
        text = self.reply(req.get("messages", []))
        if isinstance(req.get("max_tokens"), int):
            text = " ".join(text.split(" ")[: req["max_tokens"]])
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in req.get("messages", []))
        resp = {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.get("model", "test"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                      "total_tokens": prompt_tokens + len(text.split())},
        }
        if fault and fault.patch:
            resp.update(fault.patch)
        return await self._send(writer, 200, resp)

    async def _send(self, writer, status: int, payload, extra: dict[str, str] | None = None) -> bool:
        if isinstance(payload, bytes):
            body = payload
        else:
            try:
                body = json.dumps(payload, ensure_ascii=False).encode()
            except UnicodeEncodeError:  # a reply with a lone surrogate: sent as its \\uXXXX escape, as servers do
                body = json.dumps(payload).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
                  500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
        head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json",
                f"content-length: {len(body)}", "connection: keep-alive"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--answers", help="JSONL with question/reference: answer known questions with the reference")
    args = ap.parse_args()
    reply = answers_from_jsonl(args.answers) if args.answers else echo_reply
    server = OpenAIServer(reply=reply, latency=args.latency, port=args.port, record=False).start()
    print(f"serving {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
