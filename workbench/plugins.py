"""Plugin registries: names -> classes, found through entry points.

Providers (group ``workbench.providers``) and metrics (group ``workbench.metrics``) are looked up the
same way for the built-ins and for third-party packages: a package declares, in its pyproject.toml,

    [project.entry-points."workbench.providers"]
    echo = "workbench_echo:EchoProvider"

and once it is installed, ``echo:...`` is a model spec. The entry points are read once per process
(importlib.metadata, ~20 ms; not at all to find a built-in) and a class's module is imported only when
that name is used, so ``workbench --help`` and an API-only eval import no SDK they do not need.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
from typing import Any

from workbench.errors import UserError


class Registry:
    """One entry-point group. `builtins` (name -> "module:attr") are the classes this package ships:
    its own pyproject.toml declares the same entry points (a test keeps the two equal), but a source
    checkout whose installed metadata is older than the code (an editable install made before an entry
    point was added, or no install at all) must still find them, so they are the floor the group's
    entry points are laid over."""

    def __init__(self, group: str, builtins: dict[str, str], what: str):
        self.group, self.what = group, what
        self._builtins = dict(builtins)
        self._targets: dict[str, Any] | None = None  # name -> "module:attr" or a class
        self._lock = threading.Lock()

    def targets(self) -> dict[str, Any]:
        """name -> target, read from the installed entry points on first use. A plugin cannot take a
        built-in's name: `openai:` always means this package's provider, whatever else is installed."""
        if self._targets is None:
            with self._lock:
                if self._targets is None:
                    found = _installed().get(self.group, {})
                    self._targets = {**found, **self._builtins}
        return self._targets

    def names(self) -> list[str]:
        return sorted(self.targets())

    def __contains__(self, name: str) -> bool:
        if self._targets is None and name in self._builtins:
            return True
        return name in self.targets()

    def load(self, name: str, setting: str) -> Any:
        """The class registered under `name`; an unknown name is a UserError listing the known ones."""
        # A built-in needs no scan of the installed packages (~20 ms): an API-only eval skips it.
        target = self._builtins.get(name) if self._targets is None else self._targets.get(name)
        if target is None:
            target = self.targets().get(name)
        if target is None:
            raise UserError(f"unknown {self.what} {name!r} (known: {', '.join(self.names())})", setting=setting)
        return _import(target, f"{self.what} {name!r}", setting) if isinstance(target, str) else target

    def add(self, name: str, target: Any) -> None:
        """Register a class (or "module:attr") in this process, e.g. from a notebook or a test."""
        self.targets()[name] = target

    def remove(self, name: str) -> None:
        self.targets().pop(name, None)


@functools.cache
def _installed() -> dict[str, dict[str, str]]:
    """group -> {name: "module:attr"} of every installed distribution, read once per process for all groups.

    Over a copy of sys.path, as workbench.versions does: Streamlit's script runner edits sys.path while the
    app's background runs look things up. Where two installed copies declare a name, the first on the path wins.
    """
    from importlib.metadata import distributions

    groups: dict[str, dict[str, str]] = {}
    for dist in distributions(path=list(sys.path)):
        for ep in dist.entry_points:
            if ep.group.startswith("workbench."):
                groups.setdefault(ep.group, {}).setdefault(ep.name, ep.value)
    return groups


def _import(target: str, label: str, setting: str) -> Any:
    module, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise UserError(f"{label} is registered as {target!r}, which cannot be loaded: {e}", setting=setting) from None
    return obj
