"""Saving a prompt over its file without rewriting the file: comments, key order, block scalars
(`content: |-`), quoting and indentation stay as they were; only the values that changed are replaced.

ruamel.yaml's round-trip mode keeps what PyYAML throws away. It is pure Python and follows aliases, so
the old text is only given to it after workbench.authoring.yaml_limits has accepted it (size, aliases,
expansion): hostile YAML stays bounded. The new text is read back with the same limits and must mean
exactly the new prompt, else the plain dump is used: a Save never writes a file that says something else.
"""

from __future__ import annotations

import io
from typing import Any

from workbench.authoring.yaml_limits import load_yaml


def updated_yaml(old_text: str, new: dict[str, Any], plain: str) -> str:
    """`old_text` (a prompt file) changed to say `new` (Prompt.to_dict()); `plain` (Prompt.to_yaml()) when the
    old text cannot be kept (not a mapping, refused by the limits, or a result that would not read back as `new`)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.util import load_yaml_guess_indent

    try:
        if not isinstance(load_yaml(old_text), dict):  # the limits first: ruamel would expand what they refuse
            return plain
        rt = YAML()
        rt.preserve_quotes = True
        data, indent, block_seq_indent = load_yaml_guess_indent(old_text, yaml=rt)
    except Exception:  # noqa: BLE001 - any YAML the round trip cannot take: write the plain dump
        return plain
    if not isinstance(data, CommentedMap):
        return plain
    _update_map(data, new)
    # Plain scalars are folded at the width: the file's longest line keeps a long line whole and refolds a
    # folded one where it was (ruamel does not record folds).
    rt.width = max(map(len, old_text.splitlines()), default=80)
    rt.allow_unicode = True
    rt.indent(mapping=_mapping_indent(old_text), sequence=indent or 2, offset=block_seq_indent or 0)
    out = io.StringIO()
    try:
        rt.dump(data, out)
        same = load_yaml(out.getvalue()) == load_yaml(plain)
    except Exception:  # noqa: BLE001 - see the docstring
        return plain
    return out.getvalue() if same else plain


def _mapping_indent(text: str) -> int:
    """How far a nested mapping is indented under its key (ruamel guesses one indent for sequences and
    mappings alike, and prompt files usually nest sequences deeper than mappings)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for above, below in zip(lines, lines[1:]):
        if above.rstrip().endswith(":") and not below.lstrip().startswith("-"):
            step = (len(below) - len(below.lstrip())) - (len(above) - len(above.lstrip()))
            if 0 < step <= 8:
                return step
    return 2


def _update_map(old, new: dict[str, Any]) -> None:
    for key in [k for k in old if k not in new]:
        del old[key]
    for key, value in new.items():
        if key in old:
            old[key] = _updated(old[key], value)
        else:
            old[key] = _fresh(value)


def _updated(old: Any, new: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import ScalarString

    if isinstance(old, CommentedMap) and isinstance(new, dict):
        _update_map(old, new)
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        del old[len(new):]
        for i, value in enumerate(new):
            if i < len(old):
                old[i] = _updated(old[i], value)
            else:
                old.append(_fresh(value))
        return old
    if type(old) is type(new) and old == new or (isinstance(old, ScalarString) and str(old) == new):
        return old  # unchanged: keep its style (quotes, block) as written
    if isinstance(old, ScalarString) and isinstance(new, str):
        return type(old)(new)  # changed text keeps the old style (a `|-` block stays one)
    return _fresh(new)


def _fresh(value: Any) -> Any:
    """A new value: text with line breaks as a `|-` block (as people write prompts), the rest as is."""
    from ruamel.yaml.scalarstring import LiteralScalarString

    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value
