"""rasa: against a REAL Rasa server started by `make rasa-serve` (the bundled assistant, .venv-rasa), and
against a tiny loopback HTTP server for the failures a real one will not produce on demand."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import subprocess
import threading

import pytest

from tests.conftest import DATA_EN, ROOT, run_process
from workbench import store
from workbench.errors import UserError
from workbench.providers import ProviderError, make_provider
from workbench.providers.rasa import bot_text

PROMPT = ROOT / "prompts" / "support_zero_shot.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def rasa_url():
    """The bundled assistant served on a port of its own through the Makefile, stopped afterwards."""
    port = free_port()
    done = subprocess.run(["make", "-s", "rasa-serve", f"RASA_PORT={port}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=1500)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    yield f"http://127.0.0.1:{port}"
    subprocess.run(["make", "-s", "rasa-stop", f"RASA_PORT={port}"], cwd=ROOT, timeout=60)


def held_out(tmp_path):
    rows = [json.loads(line) for line in DATA_EN.read_text(encoding="utf-8").splitlines()]
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows if r["split"] == "test"), encoding="utf-8")
    return path, len([r for r in rows if r["split"] == "test"])


@pytest.mark.slow
def test_held_out_questions_through_a_real_rasa_server(rasa_url, db, tmp_path):
    data, n = held_out(tmp_path)
    r = run_process("eval", PROMPT, "--data", data, "--model", f"rasa:{rasa_url}", "--metrics", "exact,chrf",
                    "-j", "8", "--json", env={"WORKBENCH_DB": db}, timeout=300)
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)["runs"][0]
    assert run["outputs"] == n and run["errors"] == 0
    with store.connect(db) as con:
        out = store.load_outputs(con, run["run_id"])
        exact = store.load_scores(con, run["run_id"]).query("metric == 'exact'")["value"].mean()
    answers = {json.loads(line)["reference"] for line in DATA_EN.read_text(encoding="utf-8").splitlines()}
    assert out["text"].str.len().all() and out["text"].isin(answers).mean() >= 0.6  # FAQ answers, some off-topic
    assert exact >= 0.5  # the bundled assistant answers most unseen paraphrases with the right FAQ answer


@pytest.mark.slow
def test_senders_never_share_a_tracker(rasa_url):
    async def go():
        bot = make_provider(f"rasa:{rasa_url}")
        ask = [{"role": "user", "content": "what were we talking about?"}]
        try:
            # two conversations at once, each a sender of its own; the slot answers from that sender's tracker
            first = await asyncio.gather(
                bot.complete([{"role": "user", "content": "I forgot my password, how do I reset it?"}], {"conversation_id": "a"}),
                bot.complete([{"role": "user", "content": "I have a discount code, where do I enter it?"}], {"conversation_id": "b"}))
            topics = await asyncio.gather(bot.complete(ask, {"conversation_id": "a"}), bot.complete(ask, {"conversation_id": "b"}))
            alone = await bot.complete(ask, {})  # a plain row: a fresh sender that has asked nothing
            return first, topics, alone
        finally:
            await bot.aclose()

    first, topics, alone = asyncio.run(go())
    assert "Forgot password" in first[0].text
    assert topics[0].text == "You asked about reset_password."
    assert topics[1].text == "You asked about discount_code."
    assert alone.text == "You asked about nothing yet."
    senders = {first[0].raw["sender"], first[1].raw["sender"], alone.raw["sender"]}
    assert len(senders) == 3 and topics[0].raw["sender"] == first[0].raw["sender"]


@pytest.mark.slow
def test_buttons_and_images_come_back_as_text_in_order(rasa_url):
    async def go():
        bot = make_provider(f"rasa:{rasa_url}")
        try:
            return await bot.complete([{"role": "user", "content": "hello"}], {})
        finally:
            await bot.aclose()

    assert asyncio.run(go()).text.splitlines() == [
        "Hello! I am the Northwind Shop assistant. What can I help you with?",
        "[button: Track my order]", "[button: Reset my password]", "[image: https://example.com/northwind-logo.png]"]


def test_no_server_is_one_line_naming_the_command(db):
    url = f"http://127.0.0.1:{free_port()}"
    r = run_process("eval", PROMPT, "--data", DATA_EN, "--model", f"rasa:{url}", "--limit", "2",
                    env={"WORKBENCH_DB": db})
    assert r.returncode != 0
    assert f"no Rasa server at {url}: start one with make rasa" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_bad_spec_is_refused():
    with pytest.raises(UserError, match="expected rasa:http://HOST:PORT"):
        make_provider("rasa:localhost:5005")
    with pytest.raises(UserError, match="unknown option 'sender'"):
        make_provider("rasa:http://127.0.0.1:1?sender=x")


class FakeRasa:
    """A loopback server that says it is Rasa on /status and answers the webhook with `reply`."""

    def __init__(self, status: int, body: bytes):
        calls = self.calls = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self._send(200, b'{"model_file": "fake.tar.gz", "model_id": "fake"}')

            def do_POST(self):
                calls.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self._send(status, body)

            def _send(self, code, data):
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(("status", "body", "kind"), [
    (500, b"Internal Server Error", "server_error"),
    (200, b"<html>not a bot</html>", "bad_response"),
    (200, b'{"text": "an object, not a list"}', "bad_response"),
    (404, b"not found", "bad_request"),
])
def test_a_bad_server_is_each_rows_recorded_error(cli, db, status, body, kind):
    fake = FakeRasa(status, body)
    try:
        r = cli("eval", PROMPT, "--data", DATA_EN, "--model", f"rasa:{fake.url}", "--limit", "3", "--retries", "1",
                "--metrics", "exact", "--json")
    finally:
        fake.close()
    assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["errors"] == 3
    with store.connect(db) as con:
        assert store.error_kinds(con, run["run_id"]) == {kind: 3}
    retried = 2 if kind != "bad_request" else 1  # 4xx is not retried; the rest once (--retries 1)
    assert len(fake.calls) == 3 * retried
    assert len({c["sender"] for c in fake.calls}) == len(fake.calls) or kind == "bad_request"


def test_bot_text_joins_messages_in_order():
    raw = json.dumps([{"text": "one"}, {"text": "two", "buttons": [{"title": "Yes", "payload": "/y"}]},
                      {"image": "http://x/i.png"}, {"custom": {"a": 1}}]).encode()
    assert bot_text(raw) == "one\ntwo\n[button: Yes]\n[image: http://x/i.png]\n[custom: {\"a\": 1}]"
    assert bot_text(b"[]") == ""
    with pytest.raises(ProviderError) as e:
        bot_text(b"[1, 2]")
    assert e.value.kind == "bad_response"


def test_models_page_says_whether_rasa_is_up_and_lists_chatterbot_bots(monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    from workbench.app import context

    monkeypatch.setenv("WORKBENCH_DATASETS", str(ROOT / "datasets"))
    monkeypatch.setenv("WORKBENCH_MODELS_DIR", str(tmp_path / "models"))
    page = str(ROOT / "workbench" / "app" / "views" / "models.py")
    monkeypatch.setenv("WORKBENCH_RASA_URL", f"http://127.0.0.1:{free_port()}")
    at = AppTest.from_file(page, default_timeout=60).run()
    assert not at.exception
    assert any("No Rasa server at" in i.value and "make rasa" in i.value for i in at.info)
    bots = [c.value for c in at.caption if "ChatterBot" in c.value]
    assert any("support_en.jsonl" in b for b in bots) and not any("faq_en" in b for b in bots)
    fake = FakeRasa(200, b'[{"text": "hi from rasa"}]')
    try:
        monkeypatch.setenv("WORKBENCH_RASA_URL", fake.url)
        at = AppTest.from_file(page, default_timeout=60).run()
        assert any("Rasa is up" in s.value for s in at.success)
        specs = context.model_specs()  # what the Run page offers
        assert f"rasa:{fake.url}" in specs and f"chatterbot:{ROOT / 'datasets' / 'support_en.jsonl'}" in specs
    finally:
        fake.close()


def test_the_bundled_assistant_is_what_its_script_writes(tmp_path):
    """bots/rasa/ is generated from datasets/support_en.jsonl: the committed files are the script's output."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("rasa_build", ROOT / "bots" / "rasa" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for written in build.build(out=tmp_path):
        committed = ROOT / "bots" / "rasa" / written.relative_to(tmp_path)
        assert written.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), committed
    nlu = (tmp_path / "data" / "nlu.yml").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in DATA_EN.read_text(encoding="utf-8").splitlines()]
    assert all(f"    - {r['question']}\n" in nlu for r in rows if r["split"] == "train")
    assert not any(f"    - {r['question']}\n" in nlu for r in rows if r["split"] == "test")  # held out


# -- conversations through the runner --------------------------------------------------------------------
TOPICS = [("I forgot my password, how do I reset it?", "reset_password"),
          ("I have a discount code, where do I enter it?", "discount_code")]


def rasa_conversations(tmp_path, n: int):
    """n conversations of three turns: an FAQ question, "what were we talking about?" (answered from the
    sender's slot, so only right when the turns share a tracker), then the other topic's question."""
    rows = []
    for i in range(n):
        (first, topic), (other, _) = TOPICS[i % 2], TOPICS[1 - i % 2]
        rows.append({"turns": [first, "...", "what were we talking about?", f"You asked about {topic}.", other, "..."],
                     "customer": f"customer {i}"})
    path = tmp_path / "rasa_talks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path, rows


@pytest.mark.slow
def test_own_history_conversations_through_a_real_rasa_server(rasa_url, db, tmp_path):
    """The runner passes each conversation a conversation_id; rasa: sends its turns under one sender of its
    own, in order: the real server's trackers hold exactly each conversation's user turns, and the slot
    answer on turn 2 is that conversation's topic although 8 conversations ran at once."""
    import urllib.request

    import workbench
    from workbench.providers.rasa import RasaProvider

    class Recording(RasaProvider):
        def __init__(self, rest):
            super().__init__(rest)
            self.seen = []

        async def complete(self, messages, params):
            done = await super().complete(messages, params)
            self.seen.append((params["conversation_id"], done.raw["sender"], messages[-1]["content"]))
            return done

    n = 8
    data, rows = rasa_conversations(tmp_path, n)
    bot = Recording(rasa_url)
    rep = workbench.evaluate(ROOT / "prompts" / "support_conversation.yaml", data, bot, "exact", db=db,
                             history="own", concurrency=8)
    with store.connect(db) as con:
        out = con.execute("SELECT row_idx, turn_idx, text, error FROM outputs WHERE run_id = ? ORDER BY ALL",
                          [rep.runs[0]]).fetchall()
    assert len(out) == 3 * n and all(err is None for *_, err in out)
    topic_answers = {row: text for row, turn, text, _ in out if turn == 1}
    assert topic_answers == {i: f"You asked about {TOPICS[i % 2][1]}." for i in range(n)}
    senders: dict[str, set[str]] = {}
    for conversation, sender, _ in bot.seen:
        senders.setdefault(conversation, set()).add(sender)
    assert len(senders) == n and all(len(s) == 1 for s in senders.values())  # one sender per conversation
    assert len({next(iter(s)) for s in senders.values()}) == n  # and no two conversations share one
    for conversation, (sender,) in senders.items():
        with urllib.request.urlopen(f"{rasa_url}/conversations/{sender}/tracker", timeout=10) as r:
            events = json.loads(r.read())["events"]
        said = [e["text"] for e in events if e["event"] == "user"]
        sent = [m for c, _, m in bot.seen if c == conversation]
        assert said == sent and len(said) == 3  # the tracker saw this conversation's turns, in order
        assert said in [[r["turns"][0], r["turns"][2], r["turns"][4]] for r in rows]
