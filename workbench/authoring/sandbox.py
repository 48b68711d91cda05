"""The Jinja sandbox prompt templates render in, with limits that hold BEFORE the work is done.

jinja2's ImmutableSandboxedEnvironment stops escapes, not expense: ``{{ 'a' * 50000000 }}``,
``lipsum(n=10**6)``, ``'%.999999999f' | format(1.0)``, ``'x'.center(2000000000)`` or a string doubled
in a loop allocate gigabytes before any check on the output could run. So every operation that
can build something big is checked on its arguments first: ``*``, ``**``, ``+``, ``%`` and ``~``;
the str methods and filters that pad, repeat, join or replace; width and precision in format
specs; every ``{{ }}`` value and every captured block. One render may build at most
MAX_RESULT_CHARS in one value and MAX_WORK_CHARS in all (the memory bound), and it runs against a
deadline checked in every loop, ``range`` and bounded operation (the time bound).
"""

from __future__ import annotations

import functools
import operator
import re
import threading
import time
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum

MAX_RESULT_CHARS = 1_000_000  # one value (string or list items) a template may build
MAX_WORK_CHARS = 20_000_000  # everything one render builds, all values together
MAX_INPUT_CHARS = 2_000_000  # the text a value passed to a filter may stand for
MAX_FORMAT_WIDTH = 10_000  # width and precision in a format spec
MAX_INT_BITS = 100_000  # integers a template computes (about 30,000 digits)
MAX_RANGE = 100_000
RENDER_SECONDS = 2.0
LOOP_HELPER = "_wb_bounded_loop"


class RenderLimit(Exception):
    pass


_local = threading.local()  # per thread (the app renders in threads): deadline and characters built


def start(seconds: float = RENDER_SECONDS) -> None:
    """A fresh budget for one render: the deadline and the characters built so far."""
    _local.deadline = time.monotonic() + seconds
    _local.work = 0


def check_deadline() -> None:
    if time.monotonic() > getattr(_local, "deadline", float("inf")):
        raise RenderLimit(f"rendering took longer than {RENDER_SECONDS:g} s")


def spend(n: int, what: str) -> None:
    """Refuse to build `n` characters (or list items) when one value or the render would pass its cap."""
    if n > MAX_RESULT_CHARS:
        raise RenderLimit(f"{what} would build {n:,} characters or items (limit {MAX_RESULT_CHARS:,})")
    _local.work = getattr(_local, "work", 0) + n
    if _local.work > MAX_WORK_CHARS:
        raise RenderLimit(f"the template built more than {MAX_WORK_CHARS:,} characters in all ({what})")
    check_deadline()


def text_size(obj: Any, limit: int = MAX_INPUT_CHARS) -> int:
    """About how many characters str(obj) has, without building it; stops counting past `limit`
    (a list may hold the same huge string a million times)."""
    total, stack = 0, [obj]
    while stack and total <= limit:
        o = stack.pop()
        if isinstance(o, str):
            total += len(o)
        elif isinstance(o, bool) or o is None:
            total += 5
        elif isinstance(o, int):
            total += o.bit_length() // 3 + 2
        elif isinstance(o, (bytes, bytearray)):
            total += 4 * len(o) + 3
        elif isinstance(o, dict):
            total += 4 * len(o) + 2
            if total <= limit:
                stack.extend(o.keys())
                stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            total += 2 * len(o) + 2
            if total <= limit:
                stack.extend(o)
        else:
            total += 32
    return total


def _checked_input(value: Any, what: str) -> None:
    if text_size(value) > MAX_INPUT_CHARS:
        raise RenderLimit(f"{what}: the value stands for more than {MAX_INPUT_CHARS:,} characters")


# -- format specs ---------------------------------------------------------------------------------
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?([a-zA-Z%])")
_SPEC_NUMBERS = re.compile(r"(\d+)?(?:\.(\d+))?[a-zA-Z%]?$")


def _width(n: str | None) -> int:
    if n == "*":
        raise RenderLimit("a * width or precision is not allowed in templates")
    if n and (len(n) > 6 or int(n) > MAX_FORMAT_WIDTH):
        raise RenderLimit(f"format width or precision {n} (limit {MAX_FORMAT_WIDTH:,})")
    return int(n) if n else 0


def check_percent(fmt: str, args: Any) -> None:
    """`fmt % args`: every width and precision bounded, the result estimated before it is built."""
    specs = [m for m in _PERCENT.finditer(fmt) if m.group(3) != "%"]
    widest = max((_width(m.group(1)) + _width(m.group(2)) for m in specs), default=0)
    values = list(args.values()) if isinstance(args, dict) else list(args) if isinstance(args, tuple) else [args]
    largest = max((text_size(v) for v in values), default=0)
    spend(len(fmt) + len(specs) * (widest + largest + 24), "%-formatting")


def _format_spec_width(spec: str) -> int:
    """Width + precision of a str.format spec such as ``>10``, ``,.2f``, ``0=+20.3e``."""
    m = _SPEC_NUMBERS.search(spec.replace(",", "").replace("_", ""))
    return _width(m.group(1)) + _width(m.group(2)) if m else 0


class _BoundedFormatter(SandboxedFormatter):
    """str.format with each field's width, precision and value size checked before it is formatted."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        spend(_format_spec_width(format_spec) + text_size(value) + 24, "str.format")
        return super().format_field(value, format_spec)


# -- str methods and filters that allocate ---------------------------------------------------------
def _replace_size(s: str, old: str, new: str, count: int = -1) -> int:
    n = s.count(old) if old else len(s) + 1
    if count is not None and count >= 0:
        n = min(n, count)
    return len(s) + n * (len(new) - len(old))


def _str_method_size(s: str, name: str, args: tuple, kwargs: dict) -> int | None:
    """Characters a call of s.NAME(*args) would build, when that can be large; None when it cannot."""
    if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
        return max(len(s), args[0])
    if name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        return len(s) + s.count("\t") * max(int(tab), 0)
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        return _replace_size(s, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))
    if name == "translate" and args and isinstance(args[0], dict):
        return len(s) * max([text_size(v) for v in args[0].values()] + [1])
    return None


def _join_size(sep: str, items: list) -> int:
    return sum(text_size(x) for x in items) + len(sep) * max(len(items) - 1, 0)


def _filter_size(name: str, value: Any, args: tuple, kwargs: dict) -> int | None:
    """Characters (or items) a filter would build, checked before it runs, for the filters that can
    build much more than their input."""
    def arg(i: int, key: str, default: Any) -> Any:
        return args[i] if len(args) > i else kwargs.get(key, default)

    if name == "center":
        return max(text_size(value), int(arg(0, "width", 80)))
    if name == "indent":
        width = arg(0, "width", 4)
        width = width if isinstance(width, int) else len(str(width))
        text = str(value)
        return len(text) + (text.count("\n") + 1) * width
    if name == "replace":
        return _replace_size(str(value), str(arg(0, "old", "")), str(arg(1, "new", "")), arg(2, "count", None))
    if name == "wordwrap":
        text = str(value)
        wrap = arg(2, "wrapstring", None) or "\n"
        return len(text) + (len(text) // max(int(arg(0, "width", 79)), 1) + 1) * len(str(wrap))
    if name == "batch":
        return text_size(value) + int(arg(0, "linecount", 1))
    if name == "slice":
        return text_size(value) + int(arg(0, "slices", 1))
    return None


def _bounded_filter(name: str, func: Any) -> Any:
    """`func` with its input size, its arguments and its result checked (see _filter_size)."""
    pass_arg = getattr(func, "jinja_pass_arg", None)

    @functools.wraps(func)
    def filter_(*args: Any, **kwargs: Any) -> Any:
        at = 1 if pass_arg is not None else 0
        value, rest = args[at], args[at + 1:]
        _checked_input(value, f"filter {name}")
        if name == "format":
            check_percent(str(value), kwargs or rest)
        elif name in ("join", "sum"):
            items = list(value)
            args = (*args[:at], items, *rest)
            if name == "join":
                spend(_join_size(str(rest[0]) if rest else str(kwargs.get("d", "")), items), "filter join")
            elif not isinstance(kwargs.get("start", rest[1] if len(rest) > 1 else 0), (int, float)):
                spend(sum(text_size(x) for x in items), "filter sum")
        else:
            size = _filter_size(name, value, rest, kwargs)
            if size is not None:
                spend(size, f"filter {name}")
        result = func(*args, **kwargs)
        if isinstance(result, (str, list)):
            spend(len(result), f"filter {name}")
        return result

    return filter_


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 - jinja's names
    if not (0 <= n <= 100 and 0 <= min <= max <= 1000):
        raise RenderLimit("lipsum takes n up to 100 and max up to 1,000 words")
    spend(n * max * 12, "lipsum")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def bounded_range(*args: int):
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise RenderLimit(f"range of {len(r):,} items (limit {MAX_RANGE:,})")
    for i in r:
        if i % 256 == 0:
            check_deadline()
        yield i


def bounded_loop(iterable: Any):
    """What every {% for %} iterates: the deadline is checked as it goes (a loop over a list of a million
    items inside another need not output anything to take hours)."""
    for n, item in enumerate(iterable):
        if n % 256 == 0:
            check_deadline()
        yield item


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame) -> None:  # `a ~ b`: sized before it is joined
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with every allocation that templates can trigger bounded before it happens."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, **options: Any):
        super().__init__(finalize=self._finalize_output, **options)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}
        self.globals.update(range=bounded_range, lipsum=bounded_lipsum, **{LOOP_HELPER: bounded_loop})

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Every {% for %} iterates through bounded_loop, so loops check the deadline."""
        ast = super()._parse(source, name, filename)
        for loop in ast.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.Name(LOOP_HELPER, "load"), [loop.iter], [], None, None,
                                   lineno=loop.iter.lineno)
        return ast

    @staticmethod
    def _finalize_output(value: Any) -> Any:
        """Every {{ value }} (also inside {% set %} blocks and macros, whose output is not streamed)."""
        if not isinstance(value, str):
            _checked_input(value, "output")
        spend(text_size(value, MAX_RESULT_CHARS), "output")
        return value

    def concat(self, parts: Any) -> str:  # joins captured blocks ({% set x %}, {% filter %}, macros)
        parts = list(parts)
        spend(sum(map(len, parts)), "a captured block")
        return "".join(parts)

    def bounded_concat(self, parts: tuple) -> str:
        spend(sum(text_size(p, MAX_RESULT_CHARS) for p in parts), "~ concatenation")
        return "".join(map(str, parts))

    def call_binop(self, context, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple, bytes)) and isinstance(n, int):
                    spend(len(seq) * max(n, 0), "*")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise RenderLimit(f"a product of more than {MAX_INT_BITS:,} bits")
        elif op == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1 \
                    and left.bit_length() * right > MAX_INT_BITS:
                raise RenderLimit("exponent too large")
        elif op == "+":
            if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
                spend(len(left) + len(right), "+ concatenation")
        elif op == "%" and isinstance(left, str):
            check_percent(left, right)
        return {"*": operator.mul, "**": operator.pow, "+": operator.add, "%": operator.mod}[op](left, right)

    def call(__self, __context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - jinja's signature
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name == "join" and args:
                items = list(args[0])
                spend(_join_size(owner, items), "str.join")
                args = (items, *args[1:])
            else:
                size = _str_method_size(owner, name, args, kwargs)
                if size is not None:
                    spend(size, f"str.{name}")
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """str.format / format_map through a formatter that checks each field before formatting it."""
        if super().wrap_str_format(value) is None:
            return None
        owner, is_map = value.__self__, value.__name__ == "format_map"
        formatter = _BoundedFormatter(self)

        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return functools.update_wrapper(bounded, value)
