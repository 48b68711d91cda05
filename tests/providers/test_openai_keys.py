"""The API key stays home: OPENAI_API_KEY goes only to the official endpoint or OPENAI_BASE_URL's host, another
endpoint gets the key it names (?key_env=NAME) or none, and no error text keeps any part of a key."""

from __future__ import annotations

import asyncio
import json

import duckdb
import pytest

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import Fault, OpenAIServer
from workbench.errors import UserError
from workbench.providers import keys, make_provider

ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"
HOME_KEY = "QZ7wKp3Lm9Xv2RtJy"  # 17 characters, none repeated in a row: any 5 of them in a row is a leak
VLLM_KEY = "vllm-KEY-8c1e5d0b44"


def ask(spec: str) -> None:
    async def go():
        provider = make_provider(spec, retries=0)
        try:
            await provider.complete([{"role": "user", "content": "hi"}], {})
        finally:
            await provider.aclose()

    asyncio.run(go())


def leaked(text: str, key: str = HOME_KEY, n: int = 5) -> list[str]:
    return [key[i:i + n] for i in range(len(key) - n + 1) if key[i:i + n] in text]


def test_the_key_goes_only_where_it_belongs(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", HOME_KEY)
    monkeypatch.setenv("VLLM_KEY", VLLM_KEY)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-home-only")
    with OpenAIServer() as home, OpenAIServer() as other:
        monkeypatch.setenv("OPENAI_BASE_URL", home.base_url)
        ask("openai:m")  # the configured base URL
        ask(f"openai:m@{home.base_url}")  # the same host named in the spec
        ask(f"openai:m@{other.base_url}")  # anywhere else: no key at all
        ask(f"openai:m@{other.base_url}?key_env=VLLM_KEY")  # its own key, by name
        with pytest.raises(UserError, match="OPENAI_API_KEY is sent only to"):
            ask(f"openai:m@{other.base_url}?key_env=OPENAI_API_KEY")
        with pytest.raises(UserError, match="NOPE_KEY .*is not set"):
            ask(f"openai:m@{other.base_url}?key_env=NOPE_KEY")
        with pytest.raises(UserError, match="key_env must name one environment variable"):
            ask(f"openai:m@{other.base_url}?key_env=sk-abc")
    assert [h.get("authorization") for h in home.headers_seen] == [f"Bearer {HOME_KEY}"] * 2
    assert [h.get("authorization") for h in other.headers_seen] == [None, f"Bearer {VLLM_KEY}"]
    assert all(h.get("openai-organization") == "org-home-only" for h in home.headers_seen)
    assert all("openai-organization" not in h for h in other.headers_seen)


def test_home_is_the_official_origin_or_the_configured_one(monkeypatch):
    assert keys.is_home("https://api.openai.com/v1") and keys.is_home("https://API.openai.com:443/v1/")
    for url in ("http://api.openai.com/v1", "https://api.openai.com.evil.example/v1", "https://evil.example/v1",
                "https://api.openai.com:8443/v1", "http://127.0.0.1:8000/v1"):
        assert not keys.is_home(url), url
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    assert keys.is_home("http://127.0.0.1:8000/other") and not keys.is_home("http://127.0.0.1:8001/v1")
    assert keys.split_key_env("http://h/v1?a=1&key_env=K") == ("http://h/v1?a=1", "K")


def test_mask_replaces_every_configured_key_before_the_cut(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", HOME_KEY)
    monkeypatch.setenv("VLLM_KEY", VLLM_KEY)
    keys.key_for("http://127.0.0.1:9/v1", "VLLM_KEY")  # a provider took this key: it is masked from now on
    for pad in range(480, 501):
        for key in (HOME_KEY, VLLM_KEY):
            out = keys.mask("x" * pad + key + " tail", 500)
            assert not leaked(out, key, 4) and len(out) <= 500, pad
    assert keys.mask(f"a\n{HOME_KEY}\tb {VLLM_KEY}", None) == "a *** b ***"


def eval_against(cli, db, server, *extra):
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", "openai:test", "--retries", "0", "--db", db,
            "--json", *extra)
    assert r.code == 0, r.err
    return r


def stored_text(db) -> str:
    with duckdb.connect(db) as con:
        return json.dumps([con.execute(f"SELECT * FROM {t}").fetchall() for t in ("outputs", "runs")], default=str)


def test_error_bodies_echoing_the_key_across_the_cut_store_no_key_characters(cli, db, monkeypatch):
    """A 500 whose body echoes the key across the 500-character cut and a non-JSON 200 across the 200 cut,
    at every offset around the cut: neither the database, the JSON output nor `show` holds 5 key characters."""
    monkeypatch.setenv("OPENAI_API_KEY", HOME_KEY)
    questions = [json.loads(line)["question"] for line in DATA_EN.read_text().splitlines()[:40]]

    def fault(n, req):
        i = questions.index(req["messages"][-1]["content"].strip())
        if i < 20:  # the SDK's message is "Error code: 500 - {'error': {'message': '...", stored after "HTTP 500: "
            echo = "e" * (430 + 2 * i) + f"Bearer {HOME_KEY} echoed"
            return Fault(status=500, body=json.dumps({"error": {"message": echo}}).encode())
        return Fault(body=("<html>" + "h" * (150 + 2 * (i - 20)) + f"Authorization: Bearer {HOME_KEY}").encode())

    with OpenAIServer(fault=fault) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        r = eval_against(cli, db, server, "--limit", "40")
        assert all(h["authorization"] == f"Bearer {HOME_KEY}" for h in server.headers_seen)  # it is home
    run = r.json()["runs"][0]
    assert run["errors_by_kind"] == {"server_error": 20, "bad_response": 20}
    with duckdb.connect(db) as con:
        errors = [e for (e,) in con.execute("SELECT error FROM outputs ORDER BY row_idx").fetchall()]
    assert "***" in errors[0] and "***" in errors[20]  # the key was there and is masked
    shown = cli("show", run["run_id"])
    for text in (stored_text(db), r.out + r.err, shown.out + shown.err):
        assert not leaked(text)
    with open(db, "rb") as f:
        assert not leaked(f.read().decode("latin-1"))


def test_an_endpoint_keeps_a_key_name_never_a_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", HOME_KEY)
    url = "http://127.0.0.1:9/v1"
    assert keys.endpoint_spec(" m ", url + "/", "VLLM_KEY") == f"openai:m@{url}?key_env=VLLM_KEY"
    assert keys.endpoint_spec("m", url + "?a=1") == f"openai:m@{url}?a=1"
    assert keys.endpoint_spec("m", "https://api.openai.com/v1", "OPENAI_API_KEY").endswith("?key_env=OPENAI_API_KEY")
    for model, base, name, problem in (("", url, "", "model name"), ("m", "ftp://x", "", "base URL"),
                                       ("m", url, "sk-abc", "NAME of an environment variable"),
                                       ("m", url, HOME_KEY, "never the key itself"),
                                       ("m", url, "OPENAI_API_KEY", "sent only to")):
        with pytest.raises(UserError, match=problem):
            keys.endpoint_spec(model, base, name)


def test_models_page_saves_the_key_name_and_try_it_sends_that_key(monkeypatch):
    from tests.app.test_app_pages import no_exceptions, page

    monkeypatch.setenv("OPENAI_API_KEY", HOME_KEY)
    monkeypatch.setenv("VLLM_KEY", VLLM_KEY)
    with OpenAIServer() as server:
        at = page("models").run()
        at.text_input[0].set_value("test")
        at.text_input[1].set_value(server.base_url)
        at.text_input[2].set_value("VLLM_KEY")
        at.button[0].click().run()
        spec = f"openai:test@{server.base_url}?key_env=VLLM_KEY"
        assert spec in at.selectbox(key="try_model").options
        at.selectbox(key="try_model").set_value(spec)
        at.text_area(key="try_message").set_value("Hello")
        next(b for b in at.button if b.label == "Send").click().run()
        no_exceptions(at)
        assert at.chat_message[-1].children[0].value == "You said: Hello"
        at.selectbox(key="try_model").set_value("(type a spec)").run()  # a visitor's own URL gets no key
        at.text_input(key="try_spec").set_value(f"openai:x@{server.base_url}")
        next(b for b in at.button if b.label == "Send").click().run()
        no_exceptions(at)
    assert [h.get("authorization") for h in server.headers_seen] == [f"Bearer {VLLM_KEY}", None]
    everything = json.dumps([str(e) for e in at.main])
    assert HOME_KEY not in everything and VLLM_KEY not in everything
