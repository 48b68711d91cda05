"""openai: providers over the SDK's aiohttp transport (or httpx) and over several servers at once:
`openai:MODEL@URL1,URL2` sends requests round-robin, and a server that is down has its rows retried on
the others."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.conftest import DATA_EN, ROOT
from tests.openai_server import Fault, OpenAIServer
from workbench import store
from workbench.errors import UserError
from workbench.providers import make_provider
from workbench.providers.openai_api import pick_transport, split_urls

ZERO_SHOT = ROOT / "prompts" / "support_zero_shot.yaml"
FAULTS = {"rate_limit": Fault(status=429, retry_after=0.05), "server_error": Fault(status=500),
          "timeout": Fault(slow=1.0), "connection": Fault(drop=True), "bad_response": Fault(garbage=True)}


def dead_url() -> str:
    """A base URL where nothing listens: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def ask(spec: str, times: int = 1, **options) -> str:
    async def go():
        provider = make_provider(spec, retries=0, **options)
        try:
            for _ in range(times):
                text = (await provider.complete([{"role": "user", "content": "hi"}], {})).text
            return text
        finally:
            await provider.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_each_transport_gives_every_fault_its_own_kind(transport):
    """The SDK's aiohttp adapter reports a refused or dropped connection as a timeout; the provider tells them apart."""
    for kind, fault in FAULTS.items():
        with OpenAIServer(fault=lambda n, req, f=fault: f) as server:
            with pytest.raises(Exception) as e:
                ask(f"openai:m@{server.base_url}", timeout=0.3, transport=transport)
        assert getattr(e.value, "kind", None) == kind, (transport, kind, e.value)
    with pytest.raises(Exception) as e:
        ask(f"openai:m@{dead_url()}", transport=transport)
    assert getattr(e.value, "kind", None) == "connection", e.value
    with OpenAIServer() as server:
        assert ask(f"openai:m@{server.base_url}", transport=transport) == "You said: hi"


def test_the_transport_is_aiohttp_when_installed_unless_told(monkeypatch):
    assert pick_transport(None) == "aiohttp" and pick_transport("httpx") == "httpx"
    monkeypatch.setenv("WORKBENCH_OPENAI_TRANSPORT", "httpx")
    assert pick_transport(None) == "httpx"
    assert make_provider("openai:m@http://127.0.0.1:9/v1").client._client.__class__.__name__ != "_InstalledAioHttpClient"
    monkeypatch.delenv("WORKBENCH_OPENAI_TRANSPORT")
    assert make_provider("openai:m@http://127.0.0.1:9/v1").client._client.__class__.__name__ == "_InstalledAioHttpClient"
    with pytest.raises(UserError, match="transport must be one of aiohttp, httpx"):
        pick_transport("curl")


def test_round_robin_spreads_the_rows_over_the_servers(cli, db):
    with OpenAIServer(latency=0.01) as a, OpenAIServer(latency=0.01) as b:
        r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:test@{a.base_url},{b.base_url}",
                "--limit", "40", "-j", "8", "--json")
        assert r.code == 0, r.err
    run = r.json()["runs"][0]
    assert run["outputs"] == 40 and run["errors"] == 0
    assert len(a.requests) == len(b.requests) == 20
    asked = sorted(req["messages"][-1]["content"] for req in a.requests + b.requests)
    assert len(set(asked)) == 40  # every row once, none twice


@pytest.mark.parametrize("down", ["refused", "dropping"])
def test_a_server_that_is_down_has_its_rows_retried_on_the_other(cli, db, down):
    """One of two servers is down (nothing listens, or it drops every connection): every row is answered by
    the other, with no error, and the dead one is left alone after its first failures."""
    dropping = OpenAIServer(fault=lambda n, req: Fault(drop=True)).start()
    try:
        with OpenAIServer(latency=0.01) as up:
            dead = dead_url() if down == "refused" else dropping.base_url
            r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:test@{dead},{up.base_url}",
                    "--limit", "60", "-j", "8", "--retries", "0", "--json")
            assert r.code == 0, r.err
    finally:
        dropping.stop()
    run = r.json()["runs"][0]
    assert run["outputs"] == 60 and run["errors"] == 0, run
    assert len(up.requests) == 60
    if down == "dropping":
        assert 1 <= len(dropping.requests) <= 8  # the requests already on their way when it first failed
    with store.connect(db) as con:
        df = store.load_outputs(con, run["run_id"])
    assert df["error"].isna().all() and df["text"].str.startswith("You said: ").all()


def test_when_every_server_is_down_the_row_is_a_connection_error(cli, db):
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", f"openai:test@{dead_url()},{dead_url()}",
            "--limit", "3", "--retries", "0", "--json")
    assert r.code == 0, r.err
    assert r.json()["runs"][0]["errors_by_kind"] == {"connection": 3}


def test_a_list_of_servers_shares_one_key_variable(monkeypatch):
    monkeypatch.setenv("VLLM_KEY", "vllm-key-1234")
    with OpenAIServer() as a, OpenAIServer() as b:
        ask(f"openai:m@{a.base_url},{b.base_url}?key_env=VLLM_KEY", times=2)  # one request to each
        ask(f"openai:m@{a.base_url},{b.base_url}", times=2)  # no key named: none sent
    for server in (a, b):
        assert [h.get("authorization") for h in server.headers_seen] == ["Bearer vllm-key-1234", None]
    assert split_urls("http://a/v1,http://b/v1?key_env=K") == (["http://a/v1", "http://b/v1"], "K")
    assert split_urls("http://a/v1?key_env=K,http://b/v1?key_env=K") == (["http://a/v1", "http://b/v1"], "K")
    assert split_urls("http://a/v1?x=1,2,http://b/v1") == (["http://a/v1?x=1,2", "http://b/v1"], None)
    with pytest.raises(UserError, match="share one key variable"):
        split_urls("http://a/v1?key_env=K,http://b/v1?key_env=L")
    with pytest.raises(UserError, match="listed twice"):
        split_urls("http://a/v1,http://a/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-home-5678")
    with pytest.raises(UserError, match="OPENAI_API_KEY is sent only to"):
        make_provider(f"openai:m@http://127.0.0.1:9/v1,{a.base_url}?key_env=OPENAI_API_KEY")


def test_a_pool_gets_its_default_concurrency_per_server():
    assert make_provider("openai:m@http://127.0.0.1:9/v1").max_concurrency == 16
    assert make_provider("openai:m@http://127.0.0.1:9/v1,http://127.0.0.1:10/v1").max_concurrency == 32
