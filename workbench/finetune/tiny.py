"""`--base tiny`: a small GPT-style model and a tokenizer, both made from the training data alone.

Nothing here is pretrained. No weights can be downloaded on the machines this project is built on,
so the offline base is a Llama-architecture decoder with a few layers, random initial weights and a
byte-level BPE vocabulary learned from the conversations it will be trained on. It learns the
answers of its training data and the words that tell them apart; it knows no English beyond that.
Model cards written for it say "trained from scratch".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# ChatML, the turn format most open chat models use, so a tiny model and a real one look alike; with one
# twist: user turns are lower-cased and start with a space. A model that learns words from a few hundred
# sentences cannot afford "Refund", "refund" and " refund" being three unrelated tokens; the answers it
# writes keep their case.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{% set content = ' ' + message['content'] | lower %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + content + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]


@dataclass
class TinySpec:
    """Shape of the from-scratch model. The defaults fit 2 CPU cores in a couple of minutes."""

    vocab_size: int = 2048
    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 384
    context: int = 1024  # positions; the bundled few-shot prompt plus its answer is ~250 tokens
    arch: str = "llama"  # or "gpt2"
    dropout: float = 0.0  # attention dropout (llama); embedding, residual and attention dropout (gpt2)
    # Each Chinese character its own piece before BPE: the vocabulary then holds every character of the data
    # as one token (merges never join two), so a paraphrase shares tokens with its training question wherever
    # it shares characters. Without it, byte-level BPE learns multi-character chunks of whole training sentences.
    split_cjk: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def as_seen(role: str, content: str) -> str:
    """A turn's text as CHAT_TEMPLATE shows it to the model."""
    return " " + content.lower() if role == "user" else content


# CJK ideographs (unified and extension A), CJK punctuation and full-width forms.
CJK = "[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]"


def build_tokenizer(turns: list[tuple[str, str]], vocab_size: int, split_cjk: bool = False):
    """Byte-level BPE (any input encodes, no unknown token) learned from the (role, content) turns as the
    model will see them, with the chat template above."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(CJK), behavior="isolated"), byte_level])
                         if split_cjk else byte_level)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    roles = ["system", "user", "assistant"]
    tok.train_from_iterator([*(as_seen(r, c) for r, c in turns), *roles], trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>",
                                   bos_token="<|endoftext|>", unk_token=None, chat_template=CHAT_TEMPLATE,
                                   model_max_length=TinySpec.context, padding_side="left")


def build_model(tokenizer, spec: TinySpec, seed: int = 0):
    """A Llama-architecture decoder with random weights, sized by `spec`."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    if spec.arch == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        config = GPT2Config(
            vocab_size=len(tokenizer), n_embd=spec.hidden_size, n_layer=spec.layers, n_head=spec.heads,
            n_inner=spec.intermediate_size, n_positions=spec.context, resid_pdrop=spec.dropout,
            embd_pdrop=spec.dropout, attn_pdrop=spec.dropout, tie_word_embeddings=True,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id)
        model = GPT2LMHeadModel(config)
        _generation_ids(model, tokenizer)
        return model
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.layers, num_attention_heads=spec.heads, num_key_value_heads=spec.heads,
        max_position_embeddings=spec.context, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        attention_dropout=spec.dropout,
    )
    model = LlamaForCausalLM(config)
    _generation_ids(model, tokenizer)
    return model


def _generation_ids(model, tokenizer) -> None:
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
