"""YAML that cannot explode: aliases and the size they expand to are counted before anything is built.

PyYAML builds `&a [*a, *a, ...]` nested nine deep (a "billion laughs") as shared references in
microseconds; what explodes is everything after (hashing, copying, dumping, showing). So the node
graph is composed first (libyaml when available), its aliases and its size as if every alias were
copied are counted with one pass over distinct nodes, and only a document within the limits is
turned into Python objects. A recursive alias is refused too.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_YAML_CHARS = 5_000_000
MAX_ALIASES = 1_000  # references to an anchor
MAX_EXPANDED_NODES = 200_000  # nodes the document has once every alias is expanded

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YAMLLimitError(yaml.MarkedYAMLError):
    pass


def load_yaml(text: str) -> Any:
    """yaml.safe_load with limits; a refused document raises YAMLLimitError (a yaml.YAMLError with the line)."""
    if len(text) > MAX_YAML_CHARS:
        raise YAMLLimitError(problem=f"the document has {len(text):,} characters (limit {MAX_YAML_CHARS:,})")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check(root: yaml.Node) -> None:
    sizes: dict[int, int] = {}  # node id -> expanded size, for nodes done
    open_: set[int] = set()  # nodes being counted (a node met again among its own children: recursion)
    aliases = 0
    # iterative post-order walk: (node, children counted?)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            open_.discard(key)
            if sizes[key] > MAX_EXPANDED_NODES:
                raise YAMLLimitError(problem=f"aliases expand the document past {MAX_EXPANDED_NODES:,} nodes",
                                     problem_mark=node.start_mark)
            continue
        if key in sizes or key in open_:
            if key in open_:
                raise YAMLLimitError(problem="a recursive alias (an anchor used inside itself)",
                                     problem_mark=node.start_mark)
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YAMLLimitError(problem=f"more than {MAX_ALIASES:,} aliases", problem_mark=node.start_mark)
            continue
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []
