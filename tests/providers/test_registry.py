"""The provider contract and its registry: one method to write, declared options, kinds from entry points."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from workbench import metrics, plugins, providers
from workbench.errors import UserError
from workbench.plugins import Registry
from workbench.providers import Completion, Provider, ProviderError, make_provider

MESSAGES = [{"role": "user", "content": "hello"}]


class OneAtATime(Provider):
    options = {"greeting": str, "timeout": float}

    def __init__(self, rest: str, *, greeting: str = "hi", timeout: float = 1.0):
        self.spec, self.greeting, self.timeout = f"single:{rest}", greeting, timeout

    async def complete(self, messages, params):
        if messages[-1]["content"] == "fail":
            raise ProviderError("bad_request", "asked to fail")
        return Completion(text=f"{self.greeting} {messages[-1]['content']}")


class AllAtOnce(Provider):
    batch_size = 4

    def __init__(self, rest: str):
        self.spec = f"batch:{rest}"

    async def complete_batch(self, batch, params):
        return [Completion(text=m[-1]["content"].upper()) for m in batch]


class Neither(Provider):
    def __init__(self, rest: str):
        self.spec = rest


@pytest.fixture
def registered(monkeypatch):
    for kind, cls in (("single", OneAtATime), ("batch", AllAtOnce), ("neither", Neither)):
        monkeypatch.setitem(providers.REGISTRY.targets(), kind, cls)


def test_a_provider_that_writes_neither_method_is_refused_at_once(registered):
    """Before: complete and complete_batch called each other, so this recursed until RecursionError."""
    with pytest.raises(TypeError, match="must implement complete\\(\\) .* or complete_batch\\(\\)"):
        make_provider("neither:x")


def test_either_method_gives_the_other(registered):
    single, batch = make_provider("single:x"), make_provider("batch:x")
    got = asyncio.run(single.complete_batch([MESSAGES, [{"role": "user", "content": "fail"}]], {}))
    assert got[0].text == "hi hello" and isinstance(got[1], ProviderError) and got[1].kind == "bad_request"
    assert asyncio.run(batch.complete(MESSAGES, {})).text == "HELLO"
    assert not single.stateful and single.batch_size == 1 and batch.batch_size == 4
    assert single.identity() == {"spec": "single:x"}


def test_options_are_declared_converted_and_checked(registered):
    p = make_provider("single:x", greeting="hey", timeout="2.5", retries=3, rpm=None)
    assert p.greeting == "hey" and p.timeout == 2.5  # retries/rpm: engine settings this provider does not take
    with pytest.raises(UserError, match=r"unknown option 'greting' for single: models \(accepted: greeting, timeout\)"):
        make_provider("single:x", greting="hey")
    with pytest.raises(UserError, match="bad value 'soon' for option 'timeout'"):
        make_provider("single:x", timeout="soon")
    with pytest.raises(UserError, match=r"unknown option 'colour' for batch: models \(accepted: none\)"):
        make_provider("batch:x", colour="red")


def test_the_openai_provider_refuses_an_unknown_keyword(openai_server):
    assert make_provider(f"openai:m@{openai_server.base_url}", timeout=5, retries=0, rpm=None).retries == 0
    with pytest.raises(UserError, match="unknown option 'temprature' for openai: models"):
        make_provider(f"openai:m@{openai_server.base_url}", temprature=0.2)


def test_an_unknown_kind_lists_the_known_ones(registered):
    with pytest.raises(UserError, match=r"unknown model spec 'gpt:4'.*openai:\.\.\..*single:\.\.\."):
        make_provider("gpt:4")


def test_pyproject_declares_the_builtin_tables():
    """The fallback tables (for stale metadata) and the entry points the package installs must agree."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert points["workbench.providers"] == providers.BUILTIN
    assert points["workbench.metrics"] == metrics.BUILTIN


def test_kinds_come_from_installed_entry_points(tmp_path, monkeypatch):
    """A distribution's entry_points.txt on sys.path is all it takes; the builtins stay underneath."""
    dist = tmp_path / "workbench_fake-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: workbench-fake\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[workbench.providers]\nfake = tests.providers.test_registry:AllAtOnce\n"
                                           "openai = tests.providers.test_registry:AllAtOnce\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins._installed.cache_clear()  # read once per process; this test installs one more
    try:
        registry = Registry("workbench.providers", providers.BUILTIN, "model kind")
        assert {"fake", "openai", "hf"} <= set(registry.names())
        assert registry.load("fake", "model") is AllAtOnce
        assert registry.load("openai", "model").__name__ == "OpenAIProvider"  # a built-in name is not taken over
    finally:
        plugins._installed.cache_clear()
    bare = Registry("workbench.no-such-group", {"dumps": "json:dumps"}, "thing")
    assert bare.names() == ["dumps"] and bare.load("dumps", "x").__name__ == "dumps"
    broken = Registry("workbench.no-such-group", {"gone": "no_such_module:Thing"}, "thing")
    with pytest.raises(UserError, match="thing 'gone' is registered as 'no_such_module:Thing', which cannot be loaded"):
        broken.load("gone", "x")


def test_a_spec_imports_only_its_own_kind():
    code = ("import sys; from workbench.providers import make_provider, kinds; assert 'hf' in kinds(); "
            "make_provider('openai:m@http://127.0.0.1:9/v1'); "
            "print(sorted(m for m in ('workbench.providers.hf', 'torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
