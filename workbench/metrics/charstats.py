"""N-gram match counts for many pairs at once, with NumPy: chrF's character n-grams, BLEU's and ROUGE's words.

The reference-overlap metrics reduce a pair to integers per n-gram order n: the hypothesis' n-grams, the
reference's, and the matches (the size of their multiset intersection). In Python the matches take most
of a row's scoring time (a tuple or string and two dict entries per n-gram). Here every position of a
batch becomes one int64 key: its pair, the `max_order` symbols that start there (0 past the end of its
text) and its side. One sort puts each n-gram of every order n <= max_order in a run of equal keys'
prefixes, so one pass per order over the sorted keys counts both sides of every n-gram: the same
integers, so the metrics' values are identical (tests/metrics compare them with the Python counting).
"""

from __future__ import annotations

from itertools import chain

BATCH = 64  # pairs per sort (chrF: measured 64 ~ 128 < 32 in time per pair)
MIN_BATCH = 8  # fewer pairs are counted in Python: NumPy's per-call costs would outweigh what it saves
KEY_BITS = 63


def char_ngram_stats(hyps: list[str], refs: list[str], max_order: int) -> list[list[int]] | None:
    """Per pair (whitespace already removed): [hyp n-grams, ref n-grams, matches] for n = 1..max_order,
    flattened, as overlap.chrf computes them; None when the batch's alphabet is too large for the keys
    (the caller then counts in Python)."""
    import numpy as np

    n_pairs = len(hyps)
    texts = hyps + refs
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=2 * n_pairs)
    pad = max_order - 1
    # each text followed by `pad` placeholders, set to 0 below (whatever character they are, the text's own
    # characters may be the same one); surrogatepass: a lone surrogate (valid in a Python str, e.g. from a
    # JSON escape) is one code like any other
    gap = "\0" * pad
    codes = np.frombuffer((gap.join(texts) + gap).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ids, alphabet = _small_codes(codes)
    if pad:
        ends = np.cumsum(lens + pad) - pad
        ids[(ends[:, None] + np.arange(pad)).ravel()] = 0
    matches = _matches(ids, lens, n_pairs, max_order, alphabet)
    if matches is None:
        return None
    order = np.arange(1, max_order + 1)
    hyp_n = np.maximum(lens[:n_pairs, None] - order + 1, 0)
    ref_n = np.maximum(lens[n_pairs:, None] - order + 1, 0)
    stats = np.stack([np.where(ref_n > 0, hyp_n, 0), ref_n, np.where((hyp_n > 0) & (ref_n > 0), matches, 0)], axis=2)
    return stats.reshape(n_pairs, 3 * max_order).tolist()


def token_ngram_matches(hyps: list[list[str]], refs: list[list[str]], max_order: int) -> list[list[int]] | None:
    """Per pair of token lists, the matches of n-grams for n = 1..max_order (BLEU's `correct`, ROUGE-N's
    overlap); None when the batch has too many distinct tokens for the keys."""
    import numpy as np

    n_pairs = len(hyps)
    texts = hyps + refs
    vocab = _Vocab()
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=2 * n_pairs)
    gap = (None,) * (max_order - 1)  # after each text; None is 0 in the vocabulary
    ids = np.fromiter(map(vocab.__getitem__, chain.from_iterable(chain(t, gap) for t in texts)), dtype=np.int64,
                      count=int(lens.sum()) + len(texts) * len(gap))
    matches = _matches(ids, lens, n_pairs, max_order, len(vocab) - 1)
    return None if matches is None else matches.tolist()


class _Vocab(dict):
    """token -> 1, 2, 3... in order of first sight; None (what follows each text) -> 0."""

    def __init__(self) -> None:
        super().__init__({None: 0})

    def __missing__(self, token: str) -> int:
        self[token] = n = len(self)
        return n


def _small_codes(codes):
    """Code points renumbered 1..k (k distinct ones), so that keys stay narrow."""
    import numpy as np

    if not len(codes):
        return codes.astype(np.int64), 0
    top = int(codes.max())
    if top < max(4096, 4 * len(codes)):  # a lookup table is cheaper than np.unique's sort while it is small
        seen = np.zeros(top + 1, dtype=np.int64)
        seen[codes] = 1
        number = np.cumsum(seen)
        return number[codes], int(number[-1])
    alphabet, ids = np.unique(codes, return_inverse=True)
    return ids.astype(np.int64) + 1, len(alphabet)


def _matches(padded, lens, n_pairs: int, max_order: int, alphabet: int):
    """(n_pairs, max_order) int64 array of matches. `padded`: the symbols (1..alphabet) of the hypotheses
    then the references, each text followed by max_order - 1 zeros (so that an n-gram never runs into the
    next text); `lens` the texts' lengths. None when the keys would not fit in KEY_BITS."""
    import numpy as np

    bits = max(1, alphabet.bit_length())
    shift_pair = bits * max_order + 1
    if shift_pair + max(1, (n_pairs - 1).bit_length()) > KEY_BITS:
        return None
    pad = max_order - 1
    starts = len(padded) - pad  # a window of max_order symbols from each of these positions
    window = padded[:starts].copy()
    for k in range(1, max_order):
        window <<= bits
        window |= padded[k:k + starts]
    owner = np.repeat(np.arange(2 * n_pairs, dtype=np.int64), lens + pad)[:starts]
    side = owner >= n_pairs  # the reference's positions
    keys = ((owner - n_pairs * side) << shift_pair) | (window << 1) | side
    keys = keys[padded[:starts] != 0]  # the windows that start on a symbol, not on the zeros after a text
    keys.sort()
    total = len(keys)
    out = np.zeros((n_pairs, max_order), dtype=np.int64)
    if not total:
        return out
    in_ref_before = np.zeros(total + 1, dtype=np.int64)  # references' positions before each sorted one
    np.cumsum(keys & 1, out=in_ref_before[1:])
    last = (1 << bits) - 1
    change = np.empty(total, dtype=bool)
    change[0] = True
    bounds = np.empty(total + 1, dtype=np.int64)  # where each run of equal n-grams starts, and the end
    for n in range(1, max_order + 1):
        gram = keys >> ((max_order - n) * bits + 1)  # pair and the first n symbols
        np.not_equal(gram[1:], gram[:-1], out=change[1:])
        start = change.nonzero()[0]
        runs = len(start)
        bounds[:runs] = start
        bounds[runs] = total
        end = bounds[1:runs + 1]
        first = gram[start]
        in_ref = in_ref_before[end] - in_ref_before[start]
        both = np.minimum(in_ref, end - start - in_ref)
        both *= (first & last) != 0  # a run that went past the end of its text is not an n-gram
        out[:, n - 1] = np.bincount(first >> (n * bits), weights=both, minlength=n_pairs)
    return out
