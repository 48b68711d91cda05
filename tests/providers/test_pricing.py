"""Prices: OpenAI's list prices built in, a price file for any endpoint, unknown prices said, costs in
summaries and gates."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import DATA_EN
from workbench.errors import UserError
from workbench.providers.pricing import PRICES_DATE, price_file, price_for

ZERO_SHOT = "prompts/support_zero_shot.yaml"


def test_builtin_openai_prices_and_their_date():
    p = price_for("openai:gpt-4o-mini")
    assert (p.input, p.output) == (0.15, 0.60) and PRICES_DATE in p.source
    assert price_for("openai:gpt-4o-mini-2024-07-18") == p  # a dated snapshot
    assert price_for("openai:gpt-4o").input == 2.50
    assert price_for("openai:gpt-4o@https://api.openai.com/v1").input == 2.50
    # the same name on another server is not OpenAI's price; unknown models are unknown, not free
    assert price_for("openai:gpt-4o-mini@http://127.0.0.1:8000/v1") is None
    assert price_for("openai:my-model") is None and price_for("hf:models/support-tiny") is None
    assert p.cost(1_000_000, 2_000_000) == pytest.approx(1.35)


def test_a_price_file_overrides_and_prices_any_endpoint(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text('openai:gpt-4o-mini: {input: 1, output: 2}\n"openai:m@http://127.0.0.1:1/v1": {input: 0, output: 0}\n')
    with price_file(path):
        assert (price_for("openai:gpt-4o-mini").input, price_for("openai:m@http://127.0.0.1:1/v1").output) == (1, 0)
        assert price_for("openai:gpt-4o").input == 2.50
    assert price_for("openai:gpt-4o-mini").input == 0.15  # only within the block


@pytest.mark.parametrize("text,message", [
    ("openai:x: {input: 1}\n", "needs {input: USD, output: USD}"),
    ("openai:x: {input: -1, output: 1}\n", "numbers >= 0"),
    ("- a\n", "maps model specs"),
])
def test_bad_price_files_are_named(tmp_path, text, message):
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message) as e:
        with price_file(path):
            pass
    assert str(path) in e.value.shown(lambda s: s)


def test_cost_in_the_summary_and_in_gates(cli, openai_server, db, tmp_path):
    model = f"openai:m@{openai_server.base_url}"
    prices = tmp_path / "prices.yaml"
    prices.write_text(f'"{model}": {{input: 1000, output: 2000}}\n')  # dear, so a few tokens show
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", model, "--limit", "3", "--db", db, "--prices", prices,
            "--gate", "cost_usd.sum<=10", "--gate", "cost_usd.max<=0.0001", "--json")
    assert r.code == 3, r.err
    run = r.json()["runs"][0]
    with duckdb.connect(db) as con:
        tin, tout = con.execute("SELECT sum(tokens_in), sum(tokens_out) FROM outputs").fetchone()
    assert run["cost_usd"] == pytest.approx((tin * 1000 + tout * 2000) / 1e6) and "price file" in run["cost_note"]
    total, most = r.json()["gates"]
    assert total["passed"] and total["value"] == pytest.approx(run["cost_usd"]) and not most["passed"]
    # without a price: unknown, never 0, and a cost gate fails saying why
    r = cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", model, "--limit", "3", "--db", db,
            "--gate", "cost_usd.sum<=10")
    assert r.code == 3
    assert "unknown" in r.out.splitlines()[2] and "FAIL" in r.out and "no price for openai:m@" in r.out


def test_show_and_compare_give_the_cost(cli, openai_server, db, tmp_path):
    model = f"openai:m@{openai_server.base_url}"
    runs = [cli("eval", ZERO_SHOT, "--data", DATA_EN, "--model", model, "--limit", "2", "--db", db, "--json",
                "--no-cache").json()["runs"][0]["run_id"] for _ in range(2)]
    r = cli("show", runs[0], "--db", db)
    assert "cost unknown: no price for openai:m@" in r.out
    r = cli("compare", *runs, "--db", db, "--json")
    assert r.json()["cost_usd"] == {"a": None, "b": None}
    r = cli("compare", *runs, "--db", db)
    assert "cost  A unknown  B unknown" in r.out
