"""Limits that hold: every payload that once took seconds to minutes and gigabytes is refused as a clear
TemplateError within about a second and under ~200 MB, checked BEFORE the work is done.

The payloads run in a child process with its address space capped (a limit that does not hold fails the
test there instead of swapping this machine); the child measures each payload's time and traced peak
memory, and its own peak RSS, and reports them as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

TEMPLATES = {
    "lipsum": "{{ lipsum(n=10**6) }}",
    "tilde doubling": "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
                      "{% endfor %}{{ ns.s|length }}",
    "plus doubling": "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
                     "{% endfor %}{{ ns.s|length }}",
    "format precision": '{{ "%.999999999f"|format(1.0) }}',
    "percent precision": '{{ "%.999999999f" % 1.0 }}',
    "join then center": "{{ ['x']|join('y')|center(2000000000) }}",
    "center method": "{{ 'x'.center(1000000000) }}",
    "ljust": "{{ 'x'.ljust(1000000000) }}",
    "zfill": "{{ 'x'.zfill(1000000000) }}",
    "str.format width": "{{ '{:>1000000000}'.format(1) }}",
    "nested format width": "{{ '{:{}}'.format(1, 1000000000) }}",
    "format_map width": "{{ '{a:>1000000000}'.format_map({'a': 1}) }}",
    "captured block": "{% set s = 'x' * 1000000 %}{% set b %}{% for i in range(100000) %}{{ s }}{% endfor %}"
                      "{% endset %}{{ b|length }}",
    "shared list as text": "{% set s = 'x' * 1000000 %}{{ ([s] * 1000000)|string }}",
    "shared list output": "{% set s = 'x' * 1000000 %}{{ [s] * 1000000 }}",
    "shared list concat": "{% set s = 'x' * 1000000 %}{{ 'a' ~ ([s] * 1000000) }}",
    "squaring": "{% set ns = namespace(x=10) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}"
                "{{ ns.x > 1 }}",
    "power tower": "{{ ((10 ** 1000) ** 1000) ** 1000 }}",
    "replace": "{{ ('a' * 100000)|replace('a', 'b' * 1000) }}",
    "sum of lists": "{{ ([[1] * 1000000] * 1000000)|sum(start=[])|length }}",
    "str.join": "{{ 'y'.join(['x' * 1000000] * 1000) }}",
    "indent": "{{ ('a\\n' * 100000)|indent(100000) }}",
    "wordwrap": "{{ ('a ' * 400000)|wordwrap(1, wrapstring='x' * 1000) }}",
    "batch": "{{ [1]|batch(1000000000, 'x')|list|length }}",
    "expandtabs": "{{ ('\\t' * 100000).expandtabs(100000) }}",
    "many %s": "{% set s = 'x' * 900000 %}{{ ('%s' * 1000) % ((s,) * 1000) }}",
}


def bomb(levels: int, indent: str) -> str:
    lines = [f'{indent}l0: &l0 "lol"']
    lines += [f"{indent}l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


HEAD = "name: t\nmessages:\n  - role: user\n    content: hi\n"
FILES = {
    "billion laughs under params": HEAD + "params:\n" + bomb(9, "  "),
    "8-level bomb in examples": HEAD + "examples:\n  - q: 1\n    x:\n" + bomb(8, "      "),
    "recursive alias": HEAD + "params: &a\n  x: *a\n",
    "many aliases": HEAD + "params:\n  a: &a 1\n  b: [" + ", ".join(["*a"] * 2000) + "]\n",
}


def probe() -> None:
    """In the child: run every payload, print {name: [seconds, traced peak MB, outcome]} and the peak RSS."""
    import time
    import tracemalloc

    from workbench.authoring.templates import parse_prompt
    from workbench.errors import TemplateError

    results = {}
    tracemalloc.start()
    for name, text in [*((n, HEAD.replace("hi", json.dumps(t))) for n, t in TEMPLATES.items()), *FILES.items()]:
        tracemalloc.reset_peak()
        start = time.perf_counter()
        try:
            prompt = parse_prompt(text, "prompts/p.yaml")
            prompt.version, prompt.to_yaml()
            outcome = "rendered: " + prompt.render({})[0]["content"][:80]
        except TemplateError as e:
            outcome = f"TemplateError: {e}"
        except BaseException as e:  # noqa: BLE001 - reported, the test says which
            outcome = f"escaped {type(e).__name__}: {e}"[:300]
        results[name] = [time.perf_counter() - start, tracemalloc.get_traced_memory()[1] / 2**20, outcome]
    # VmHWM is this process image's peak; ru_maxrss would also count the forking parent's size (pytest's, when
    # the suite has grown it to hundreds of MB), which Linux carries across exec.
    with open("/proc/self/status") as f:
        hwm_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(json.dumps({"payloads": results, "maxrss_mb": hwm_kb / 1024}))


@pytest.fixture(scope="module")
def measured():
    cap = "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30)); "
    code = cap + "from tests.authoring.test_template_limits import probe; probe()"
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout)


@pytest.mark.parametrize("name", [*TEMPLATES, *FILES])
def test_payload_is_refused_fast_and_small(measured, name):
    seconds, peak_mb, outcome = measured["payloads"][name]
    assert outcome.startswith("TemplateError: prompts/p.yaml"), outcome
    assert seconds < 1.0 and peak_mb < 200, (seconds, peak_mb)


def test_the_whole_run_stays_small(measured):
    assert measured["maxrss_mb"] < 300  # the interpreter and jinja (~40 MB) plus every payload above


@pytest.mark.parametrize("source, expected", [
    ("{{ '%5.2f|%-4s|%03d' % (3.14159, 'ab', 7) }}", " 3.14|ab  |007"),
    ("{{ '{:>6}|{:.3f}|{:,}'.format('ab', 2.5, 1234567) }}", "    ab|2.500|1,234,567"),
    ("{{ '{a}-{b}'.format_map({'a': 1, 'b': 2}) }}", "1-2"),
    ("{{ 'ab'|center(6) }}|{{ 'x'.zfill(3) }}|{{ ['a', 'b']|join(', ') }}|{{ 'a-b'|replace('-', '+') }}", "  ab  |00x|a, b|a+b"),
    ("{% set ns = namespace(s='') %}{% for e in ['a', 'b', 'c'] %}{% set ns.s = ns.s ~ e %}{% endfor %}{{ ns.s }}", "abc"),
    ("{% set b %}{% for i in range(3) %}{{ i }}{% endfor %}{% endset %}{{ b }}|{{ 2 ** 10 }}|{{ [[1], [2]]|sum(start=[]) }}",
     "012|1024|[1, 2]"),
    ("{{ lipsum(1, False, 20, 30)|wordcount >= 20 }}", "True"),
])
def test_ordinary_uses_still_render(source, expected):
    from workbench.authoring.templates import parse_prompt

    assert parse_prompt(HEAD.replace("hi", json.dumps(source)), "p.yaml").render({})[0]["content"] == expected


def test_aliases_within_the_limits_still_load():
    from workbench.authoring.templates import parse_prompt

    text = HEAD + "examples:\n  - &e {q: 'Q', a: 'A'}\n  - *e\n  - *e\nparams: &p {temperature: 0}\n"
    assert parse_prompt(text, "p.yaml").examples == [{"q": "Q", "a": "A"}] * 3
