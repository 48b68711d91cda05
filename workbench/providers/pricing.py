"""What an output costs: a price per model, in US dollars per million tokens in and out.

Built in: OpenAI's public list prices (standard tier, text tokens) as published on PRICES_DATE; they apply to
`openai:MODEL` on OpenAI's own endpoint only (a model of the same name on another server is not OpenAI's
price), and to dated snapshots of those models (`gpt-4o-mini-2024-07-18`). A price file overrides them and
prices any endpoint: YAML or JSON, model spec -> {input, output} in USD per million tokens, e.g.

    openai:gpt-4o-mini: {input: 0.15, output: 0.60}
    "openai:support-tiny@http://127.0.0.1:8000/v1": {input: 0, output: 0}

given with `eval --prices FILE`, an eval file's `prices:`, `with price_file(PATH):` or $WORKBENCH_PRICES. A model without a price has
an unknown cost (None), never 0.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import UserError

PRICES_DATE = "2025-08-07"
# model -> (input, output) USD per million tokens: OpenAI's pricing page on PRICES_DATE. Re-checked on 2026-12-03
# (no network here: against copies of that page dated March-June 2026): every price below is unchanged. Models
# added since (gpt-5.x) are not listed: their cost is unknown until a price file names them.
OPENAI_PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.00), "gpt-5-mini": (0.25, 2.00), "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00), "gpt-4.1-mini": (0.40, 1.60), "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00), "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.00, 8.00), "o4-mini": (1.10, 4.40), "o3-mini": (1.10, 4.40), "o1": (15.00, 60.00),
    "gpt-4-turbo": (10.00, 30.00), "gpt-3.5-turbo": (0.50, 1.50),
}
OPENAI_HOSTS = ("https://api.openai.com/v1", "https://api.openai.com/v1/")
MAX_PRICE_FILE_BYTES = 1_000_000
ENV = "WORKBENCH_PRICES"
_PRICE_FILE: ContextVar[str | None] = ContextVar("workbench_price_file", default=None)


@contextlib.contextmanager
def price_file(path: str | Path | None) -> Iterator[None]:
    """Within the block, prices come from `path` first (checked now); None leaves the default."""
    if path is None:
        yield
        return
    load_price_file(path)
    token = _PRICE_FILE.set(os.fspath(path))
    try:
        yield
    finally:
        _PRICE_FILE.reset(token)


@dataclass(frozen=True)
class Price:
    input: float  # USD per million input tokens
    output: float
    source: str  # "OpenAI list price 2025-08-07" or the price file

    def cost(self, tokens_in: float | None, tokens_out: float | None) -> float | None:
        if tokens_in is None and tokens_out is None:
            return None
        return ((tokens_in or 0) * self.input + (tokens_out or 0) * self.output) / 1_000_000


def load_price_file(path: str | Path) -> dict[str, Price]:
    from workbench.authoring.yaml_limits import load_yaml

    p = Path(path)
    if not p.is_file():
        raise UserError("price file not found", str(path))
    if p.stat().st_size > MAX_PRICE_FILE_BYTES:
        raise UserError(f"price file is over {MAX_PRICE_FILE_BYTES:,} bytes", str(path))
    try:
        data = load_yaml(p.read_text(encoding="utf-8"))
    except Exception as e:  # yaml.YAMLError, UnicodeDecodeError
        raise UserError(f"cannot read the price file: {e}", str(path)) from None
    if not isinstance(data, dict):
        raise UserError("a price file maps model specs to {input: USD, output: USD} per million tokens", str(path))
    out = {}
    for spec, entry in data.items():
        ok = isinstance(entry, dict) and set(entry) == {"input", "output"} and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in entry.values())
        if not ok:
            raise UserError(f"{spec}: needs {{input: USD, output: USD}} per million tokens (numbers >= 0), "
                            f"got {entry!r}"[:300], str(path))
        out[str(spec)] = Price(float(entry["input"]), float(entry["output"]), f"price file {path}")
    return out


def price_for(spec: str, path: str | Path | None = None) -> Price | None:
    """The price of a model spec: the price file's (`path`, else the one `price_file` set, else
    $WORKBENCH_PRICES), else OpenAI's list price."""
    path = path or _PRICE_FILE.get() or os.environ.get(ENV)
    if path:
        table = load_price_file(path)
        if spec in table:
            return table[spec]
    kind, _, rest = spec.partition(":")
    model, _, url = rest.partition("@")
    if kind != "openai" or (url and url not in OPENAI_HOSTS):
        return None
    for name in sorted(OPENAI_PRICES, key=len, reverse=True):  # gpt-4o-mini before gpt-4o
        if model == name or (model.startswith(name + "-") and model[len(name) + 1:][:1].isdigit()):
            return Price(*OPENAI_PRICES[name], f"OpenAI list price {PRICES_DATE}")
    return None
