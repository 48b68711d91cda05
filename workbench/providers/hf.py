"""Local Hugging Face causal language models: ``hf:PATH`` (a folder saved by transformers).

``hf:models/support-tiny``, ``hf:/data/Qwen2.5-0.5B-Instruct?device=cuda&dtype=bfloat16&batch_size=32``.

- The tokenizer's chat template turns the prompt's messages into text. A tokenizer without one (a base
  model such as GPT-2) gets a plain transcript (``User: ...`` / ``Assistant:``, stopping at the next
  ``User:``), unless the prompt file sets its own ``params.chat_template``.
- Greedy by default; ``temperature`` > 0 samples, with ``top_p``/``top_k``/``seed`` when given.
  ``max_tokens`` (default 256) and ``stop`` strings are honoured.
- The runner hands batches of pending rows (``batch_size``, default 8 on CPU and 32 on GPU); they are
  left-padded and generated together in a worker thread, so the event loop keeps storing results.
  A row's latency is the wall time of the batch it was generated in.
- Device: cuda > mps > cpu unless ``device=`` says otherwise (or $WORKBENCH_HF_DEVICE); bf16 (fp16 where
  bf16 is unsupported) on GPU, fp32 on CPU.
- Each checkpoint is loaded once per process and device, and reused by every run.
- A LoRA adapter folder (``adapter_config.json``, written by ``workbench finetune --lora``) loads too: its
  model card names the base folder and the hash of the base's weights; the base is loaded, checked against
  that hash, and the adapter applied (peft). It then generates and batches like any other model.

torch and transformers are imported inside functions: importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from workbench.errors import UserError
from workbench.providers.base import Completion, Messages, Provider, ProviderError, split_query

DEFAULT_MAX_TOKENS = 256
DTYPES = {"auto": "auto", "float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "fp16": "float16"}
# For tokenizers without a chat template: a transcript a base model can continue.
TRANSCRIPT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] | capitalize }}: {{ message['content'] }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
TRANSCRIPT_STOPS = ["\nUser:", "\nSystem:"]

_CACHE: dict[tuple, tuple[Any, Any]] = {}
_CACHE_LOCK = threading.Lock()
ADAPTER_CONFIG = "adapter_config.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin")
_HASHES: dict[tuple, str] = {}


def resolve_device(device: str | None) -> str:
    import torch

    device = (device or os.environ.get("WORKBENCH_HF_DEVICE") or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {device!r} asked for, but CUDA is not available", setting="model")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("device 'mps' asked for, but MPS is not available", setting="model")
    if device != "cpu" and not device.startswith(("cuda", "mps")):
        raise UserError(f"unknown device {device!r} (auto, cpu, cuda, cuda:N or mps)", setting="model")
    return device


def resolve_dtype(dtype: str | None, device: str) -> str:
    name = DTYPES.get((dtype or "auto").lower())
    if name is None:
        raise UserError(f"unknown dtype {dtype!r} (auto, float32, bfloat16 or float16)", setting="model")
    if name != "auto":
        return name
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float16" if device == "mps" else "float32"


def _check_folder(path: str, setting: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise UserError(f"model folder not found: {path}", setting=setting)
    if not p.is_dir() or not (p / "config.json").is_file():
        raise UserError(f"not a transformers model folder (no config.json): {path}", setting=setting)
    return p.resolve()


def _fingerprint(p: Path) -> tuple:
    """Changes when the checkpoint is rewritten, so a retrained model is not served from the cache."""
    return tuple(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in p.iterdir()
                        if f.suffix in (".json", ".safetensors", ".bin", ".jinja")))


def load_checkpoint(path: str, device: str = "cpu", dtype: str = "float32", setting: str = "model",
                    for_training: bool = False, require_chat_template: bool = False):
    """(model, tokenizer) from a local folder, with a one-line UserError for anything that is not one.

    Inference loads are cached per (folder, contents, device, dtype); training gets a fresh copy.
    A LoRA adapter folder loads its base and applies the adapter (see load_adapter).
    """
    if is_adapter(path):
        if for_training:
            raise UserError(f"{path} is a LoRA adapter, not a whole model: give its base model, or the merged "
                            "model that `finetune --lora --merge` writes", setting=setting)
        return _cached_adapter(path, device, dtype, setting)
    p = _check_folder(path, setting)
    key = (str(p), _fingerprint(p), device, dtype)
    if not for_training:
        with _CACHE_LOCK:
            if key in _CACHE:
                return _CACHE[key]
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # per-tensor loading bars; our own progress is shown where it matters
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(p, local_files_only=True)
    except Exception as e:  # transformers raises OSError, ValueError, KeyError... for a bad folder
        raise UserError(f"cannot load a tokenizer from {path}: {_one_line(e)}", setting=setting) from None
    if require_chat_template and not tokenizer.chat_template:
        raise UserError("the tokenizer has no chat template; fine-tuning needs one so that training and generation "
                        "format turns alike (set `chat_template` in its tokenizer_config.json)", path)
    try:
        model = AutoModelForCausalLM.from_pretrained(p, local_files_only=True, dtype=getattr(torch, dtype))
    except Exception as e:
        raise UserError(f"cannot load a causal language model from {path}: {_one_line(e)}", setting=setting) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if for_training:
        return model, tokenizer
    tokenizer.padding_side = "left"
    model.to(device)
    model.eval()
    with _CACHE_LOCK:
        _CACHE.setdefault(key, (model, tokenizer))
        return _CACHE[key]


def is_adapter(folder: str | Path) -> bool:
    return (Path(folder).expanduser() / ADAPTER_CONFIG).is_file()


def weights_hash(folder: str | Path) -> str:
    """sha256 of a model folder's weight files (16 hex digits); cached per file size and time in this process."""
    p = Path(folder).expanduser().resolve()
    files = sorted(f for f in p.iterdir() if f.suffix in WEIGHT_SUFFIXES and f.is_file())
    key = (str(p), tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    if key not in _HASHES:
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode())
            with f.open("rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
        _HASHES[key] = h.hexdigest()[:16]
    return _HASHES[key]


def read_adapter_card(folder: str | Path, where: str | None = None, setting: str | None = "model") -> dict[str, Any]:
    """The model card's `adapter` section: which base the adapter needs, and that base's weights hash."""
    try:
        card = json.loads((Path(folder).expanduser() / "model_card.json").read_text(encoding="utf-8"))
        section = card["adapter"]
        if not isinstance(section.get("base_path"), str):
            raise KeyError("base_path")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise UserError(f"adapter folder {folder} has no model_card.json naming its base model "
                        "(written by `workbench finetune --lora`)", where, setting=setting) from None
    return section


def adapter_base(section: dict[str, Any], where: str | None = None, setting: str | None = "model") -> str:
    """The base model's folder: the path as written on the card when it is there from here, else its absolute form."""
    for candidate in (section["base_path"], section.get("base_path_resolved")):
        if candidate and (Path(candidate).expanduser() / "config.json").is_file():
            return str(candidate)
    raise UserError(f"the adapter's base model {section['base_path']!r} is not there any more", where, setting=setting)


def load_adapter(folder: str | Path, device: str = "cpu", dtype: str = "float32", where: str | None = None,
                 setting: str | None = "model"):
    """(model, tokenizer): the base named by the adapter's card, checked against its hash, with the adapter on."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # as in load_checkpoint
    hf_logging.set_verbosity_error()
    section = read_adapter_card(folder, where, setting)
    base = adapter_base(section, where, setting)
    found = weights_hash(base)
    if section.get("base_hash") and found != section["base_hash"]:
        raise UserError(f"the base model {base} has changed since the adapter was trained on it (weights hash "
                        f"{found}, the card says {section['base_hash']}); train the adapter again", where, setting=setting)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True, dtype=getattr(torch, dtype))
        with warnings.catch_warnings():  # peft 0.21 asks transformers 5 a renamed attribute; harmless
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            model = PeftModel.from_pretrained(model, folder, is_trainable=False)
    except Exception as e:  # peft and transformers raise many kinds for a broken folder
        raise UserError(f"cannot load the LoRA adapter in {folder}: {_one_line(e)}", where, setting=setting) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return model, tokenizer


def _cached_adapter(path: str, device: str, dtype: str, setting: str):
    p = Path(path).expanduser().resolve()
    key = (str(p), _fingerprint(p), device, dtype)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    model, tokenizer = load_adapter(p, device, dtype, setting=setting)
    tokenizer.padding_side = "left"
    model.to(device)
    model.eval()
    with _CACHE_LOCK:
        _CACHE.setdefault(key, (model, tokenizer))
        return _CACHE[key]


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:300] or type(e).__name__


class HFProvider(Provider):
    max_concurrency = 1  # one batch at a time per model; batches are what make it fast
    options = {"device": str, "dtype": str, "batch_size": int}  # keywords, or ?device=...&dtype=... in the spec

    def __init__(self, rest: str, *, device: str | None = None, dtype: str | None = None,
                 batch_size: int | None = None):
        path, opts = split_query(rest, HFProvider, "hf")
        if not path:
            raise UserError("no model folder in spec 'hf:' (expected hf:PATH)", setting="model")
        self.path = path
        self.device = resolve_device(device or opts.get("device"))
        self.dtype = resolve_dtype(dtype or opts.get("dtype"), self.device)
        size = batch_size if batch_size is not None else opts.get("batch_size")
        self.batch_size = size if size is not None else (32 if self.device.startswith("cuda") else 8)
        if self.batch_size < 1:
            raise UserError("batch_size must be at least 1", setting="model")
        self.spec = f"hf:{rest}"
        self.model, self.tokenizer = load_checkpoint(path, self.device, self.dtype)
        self._folder = Path(path).expanduser().resolve()
        self._lock = threading.Lock()

    @property
    def context(self) -> int:
        cfg = self.model.config
        return int(getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None) or 2048)

    def identity(self) -> dict[str, Any]:
        return {"kind": "hf", "path": str(self._folder), "files": [list(f) for f in _fingerprint(self._folder)],
                "dtype": self.dtype}

    async def complete_batch(self, batch: list[Messages], params: dict[str, Any]) -> list[Completion | ProviderError]:
        return await asyncio.to_thread(self.generate, batch, params)

    def render(self, messages: Messages, params: dict[str, Any]) -> tuple[str, list[str]]:
        """The prompt text for one conversation, and the stop strings its format implies."""
        template = params.get("chat_template") or self.tokenizer.chat_template
        extra_stops: list[str] = []
        if not template:
            template, extra_stops = TRANSCRIPT_TEMPLATE, TRANSCRIPT_STOPS
        text = self.tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                                  add_generation_prompt=True)
        return text, extra_stops

    def generate(self, batch: list[Messages], params: dict[str, Any]) -> list[Completion | ProviderError]:
        """Blocking: render, left-pad, generate the whole batch at once, cut at stop strings."""
        import torch

        try:
            gen = _generation_kwargs(params)
        except ProviderError as e:
            return [e] * len(batch)
        stops = _stops(params.get("stop"))
        results: list[Completion | ProviderError | None] = [None] * len(batch)
        texts, rows, row_stops = [], [], []
        for i, messages in enumerate(batch):
            try:
                text, extra = self.render(messages, params)
            except Exception as e:  # a template error is about this row only
                results[i] = ProviderError("bad_request", f"chat template failed: {_one_line(e)}")
                continue
            n = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
            if n + gen["max_new_tokens"] > self.context:
                results[i] = ProviderError("bad_request", f"prompt has {n} tokens; with max_tokens "
                                           f"{gen['max_new_tokens']} that exceeds the model's context of {self.context}")
                continue
            texts.append(text)
            rows.append(i)
            row_stops.append(stops + extra)
        if texts:
            all_stops = sorted({s for ss in row_stops for s in ss})
            enc = self.tokenizer(texts, add_special_tokens=False, padding=True, return_tensors="pt").to(self.device)
            seed = params.get("seed")
            start = time.perf_counter()
            with self._lock, torch.inference_mode():
                if seed is not None and gen.get("do_sample"):
                    torch.manual_seed(int(seed))
                out = self.model.generate(**enc, **gen, pad_token_id=self.tokenizer.pad_token_id,
                                          stop_strings=all_stops or None,
                                          tokenizer=self.tokenizer if all_stops else None)
            latency = (time.perf_counter() - start) * 1000
            width = enc["input_ids"].shape[1]
            n_in = enc["attention_mask"].sum(dim=1).tolist()
            for k, i in enumerate(rows):
                results[i] = self._completion(out[k, width:].tolist(), row_stops[k], int(n_in[k]), latency, len(texts))
        return results  # type: ignore[return-value]

    def _completion(self, new: list[int], stops: list[str], n_in: int, latency: float, batch: int) -> Completion:
        eos = self.model.generation_config.eos_token_id
        ends = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        ends.add(self.tokenizer.pad_token_id)
        n = next((j for j, t in enumerate(new) if t in ends), None)
        finish = "stop" if n is not None else "length"
        tokens = new[:n] if n is not None else new
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        cut = min((p for p in (text.find(s) for s in stops) if p >= 0), default=-1)
        if cut >= 0:
            text, finish = text[:cut], "stop"
        return Completion(text=text.strip(), finish_reason=finish, tokens_in=n_in, tokens_out=len(tokens),
                          latency_ms=latency, raw={"batch_size": batch, "device": self.device, "dtype": self.dtype})


def _stops(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(s) for s in value if s]


def _generation_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """Map the prompt's generation parameters onto transformers' generate()."""
    try:
        max_new = int(params.get("max_tokens") or params.get("max_completion_tokens") or DEFAULT_MAX_TOKENS)
        temperature = float(params.get("temperature") or 0.0)
        top_p = params.get("top_p")
        top_k = params.get("top_k")
        top_p = None if top_p is None else float(top_p)
        top_k = None if top_k is None else int(top_k)
    except (TypeError, ValueError) as e:
        raise ProviderError("bad_request", f"bad generation parameter: {e}") from None
    if max_new < 1:
        raise ProviderError("bad_request", "max_tokens must be at least 1")
    if temperature < 0:
        raise ProviderError("bad_request", "temperature must be >= 0")
    if temperature == 0:
        # Greedy, whatever the checkpoint's own generation_config suggests.
        return {"max_new_tokens": max_new, "do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {"max_new_tokens": max_new, "do_sample": True, "temperature": temperature,
            "top_p": 1.0 if top_p is None else top_p, "top_k": 0 if top_k is None else top_k}
