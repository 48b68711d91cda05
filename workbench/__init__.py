"""workbench: prompt engineering and evaluation for teams that build chatbots.

The public Python API (workbench.api) loads on first use, so `import workbench` and `workbench --help`
stay fast:

    import workbench
    ev = workbench.evaluate("prompts/support_few_shot.yaml", "datasets/support_en.jsonl", "openai:gpt-4o-mini")
    ev.summary()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Evaluation", "__version__", "aevaluate", "aresume", "evaluate", "load_dataset", "load_prompt", "resume",
           "score"]
_API = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:
    from workbench.api import (
        Evaluation,
        aevaluate,
        aresume,
        evaluate,
        load_dataset,
        load_prompt,
        resume,
        score,
    )


def __getattr__(name: str) -> Any:
    if name in _API:
        from workbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
