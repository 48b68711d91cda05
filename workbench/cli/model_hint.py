"""'Did you mean openai:gpt-4o?': a suggestion for a --model value without a provider prefix.

Kept outside providers/ (which parses specs) so it only adds words to an error, never changes what a spec means.
"""

from __future__ import annotations

from pathlib import Path

OPENAI_NAMES = ("gpt-", "chatgpt", "o1", "o3", "o4", "text-embedding", "ft:gpt", "davinci", "babbage")


def did_you_mean(spec: str) -> str | None:
    """A spec the user probably meant, or None: a local model folder -> hf:PATH, an OpenAI model name ->
    openai:NAME, any other bare name -> openai:NAME@BASE_URL (a model on an OpenAI-compatible server)."""
    spec = spec.strip()
    if not spec or ":" in spec.split("@", 1)[0].split("/", 1)[0]:
        return None  # it has a prefix: the provider's own error says what is wrong with it
    if (Path(spec) / "config.json").is_file():
        return f"hf:{spec}"
    name, at, base = spec.partition("@")
    if at:
        return f"openai:{name}@{base}"
    if name.lower().startswith(OPENAI_NAMES):
        return f"openai:{name}"
    return f"openai:{name}@BASE_URL (a model served by vLLM, Ollama...) or hf:PATH (a local model folder)"


def hint(argv_models: list[str] | None) -> str:
    """'; did you mean --model X?' for the first --model value that has a suggestion, else ''."""
    for spec in argv_models or []:
        better = did_you_mean(spec)
        if better:
            return f"; did you mean --model {better}?"
    return ""
