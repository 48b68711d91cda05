"""Installed package versions, for metric signatures and model cards."""

from __future__ import annotations

import functools
import sys


@functools.cache
def version(package: str) -> str:
    """The installed version of `package`, looked up on a copy of sys.path.

    importlib.metadata.version iterates sys.path itself; Streamlit's script runner inserts and removes its
    script folder there while the app's background runs compute signatures, and iterating the list as it
    shrinks can skip site-packages (PackageNotFoundError, seen in the app's tests).
    """
    from importlib.metadata import PackageNotFoundError, distributions

    for dist in distributions(name=package, path=list(sys.path)):
        return dist.version
    raise PackageNotFoundError(package)
