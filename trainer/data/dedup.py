"""Near-duplicate removal: MinHash signatures (rensa), LSH banding and a greedy keep-first pass.

Measured against datasketch on the same 100,000 texts (bench/data_bench.py, docs/data.md):
rensa builds the signatures from pre-hashed shingles in well under a second where datasketch
needs a Python hash call per shingle, so rensa it is. The rest is vectorised numpy:

- Shingles are `n`-word windows of the lower-cased text, hashed without making a Python string
  per word: all texts go into one byte buffer, word hashes come from a polynomial prefix hash
  (mod 2^64, position-normalised with the inverse power) and n-grams combine neighbouring word
  hashes. The hashes are a pure function of the bytes, so runs are reproducible.
- LSH: `bands` x `rows` signature slices hashed to one key per band; texts sharing a key are
  candidates. With 16 x 8 a pair at Jaccard 0.85 becomes a candidate with p = 0.994.
- Candidates are checked on the signatures (estimated Jaccard = share of equal slots) and, in the
  caller's order, a text is dropped when it is above the threshold with an earlier *kept* text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trainer.data.errors import DataError

U = np.uint64
_P = 1099511628211  # odd, so it has an inverse mod 2^64
_P_INV = pow(_P, -1, 1 << 64)
_CHUNK_BYTES = 4_000_000
_NEIGHBOURS = 16  # earlier members of a bucket each text is compared with


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the word (in place)."""
    x ^= x >> U(33)
    x *= U(0xFF51AFD7ED558CCD)
    x ^= x >> U(33)
    x *= U(0xC4CEB9FE1A85EC53)
    x ^= x >> U(33)
    return x


class _Powers:
    def __init__(self) -> None:
        self.fwd = np.ones(1, dtype=np.uint64)
        self.inv = np.ones(1, dtype=np.uint64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.fwd) < n:
            with np.errstate(over="ignore"):
                fwd = np.full(n, U(_P), dtype=np.uint64)
                fwd[0] = 1
                inv = np.full(n, U(_P_INV), dtype=np.uint64)
                inv[0] = 1
                self.fwd, self.inv = np.cumprod(fwd), np.cumprod(inv)
        return self.fwd[:n], self.inv[:n]


def _chunk_shingles(enc: list[bytes], n: int, powers: _Powers) -> tuple[np.ndarray, np.ndarray]:
    blob = b"\n".join(enc) + b"\n"
    b = np.frombuffer(blob, dtype=np.uint8)
    fwd, inv = powers.get(len(b))
    space = b <= 32  # ASCII whitespace and control characters separate words
    prev_space = np.empty_like(space)
    prev_space[0] = True
    prev_space[1:] = space[:-1]
    starts = np.flatnonzero(~space & prev_space)
    lens = np.fromiter(map(len, enc), dtype=np.int64, count=len(enc)) + 1
    doc_start = np.cumsum(lens) - lens
    docid = np.searchsorted(doc_start, starts, side="right") - 1
    with np.errstate(over="ignore"):
        vals = b.astype(np.uint64)
        vals += U(1)
        vals *= ~space
        vals *= fwd
        words = np.add.reduceat(vals, starts) * inv[starts] if len(starts) else np.zeros(0, np.uint64)
        words = _mix(words)
        if n == 1:
            grams, gdoc = words, docid
        elif len(words) < n:
            grams, gdoc = np.zeros(0, np.uint64), np.zeros(0, np.int64)
        else:
            grams = words[: len(words) - n + 1].copy()
            for k in range(1, n):
                grams *= U(0x9E3779B97F4A7C15)
                grams ^= words[k : len(words) - n + 1 + k]
            grams = _mix(grams)
            gdoc = docid[: len(words) - n + 1]
            whole = gdoc == docid[n - 1 :]
            grams, gdoc = grams[whole], gdoc[whole]
        counts = np.bincount(gdoc, minlength=len(enc))
        # A text shorter than n words (or empty) is one token: the mix of its words' hashes.
        short = np.flatnonzero(counts == 0)
        if len(short):
            acc = np.zeros(len(enc), dtype=np.uint64)
            inside = np.isin(docid, short)
            np.add.at(acc, docid[inside], words[inside])
            extra = _mix(acc[short] + U(1))
            grams = np.concatenate([grams, extra])
            gdoc = np.concatenate([gdoc, short])
            order = np.argsort(gdoc, kind="stable")
            grams, gdoc = grams[order], gdoc[order]
            counts = np.bincount(gdoc, minlength=len(enc))
    return grams, counts


def shingle_hashes(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(flat uint64 shingle hashes, row offsets) for rensa's flat-buffer digest."""
    enc = [t.lower().encode("utf-8", "surrogatepass") for t in texts]
    powers = _Powers()
    parts, counts = [], []
    i = 0
    while i < len(enc):
        j, size = i, 0
        while j < len(enc) and (j == i or size + len(enc[j]) < _CHUNK_BYTES):
            size += len(enc[j]) + 1
            j += 1
        g, c = _chunk_shingles(enc[i:j], n, powers)
        parts.append(g)
        counts.append(c)
        i = j
    flat = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    per_doc = np.concatenate(counts) if counts else np.zeros(0, np.int64)
    offsets = np.zeros(len(per_doc) + 1, dtype=np.uint64)
    np.cumsum(per_doc, out=offsets[1:])
    return flat, offsets


def signatures(texts: list[str], *, num_perm: int, seed: int, shingle_words: int) -> np.ndarray:
    try:
        from rensa import RMinHash
    except ImportError:
        raise DataError("deduplication needs the rensa package: pip install rensa") from None
    if not texts:
        return np.zeros((0, num_perm), dtype=np.uint32)
    flat, offsets = shingle_hashes(texts, shingle_words)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, num_perm, seed % (1 << 63))
    return np.asarray(matrix.to_rows(), dtype=np.uint32)


def candidate_pairs(sig: np.ndarray, bands: int) -> np.ndarray:
    """(m, 2) array of (earlier, later) row pairs sharing at least one LSH band."""
    n, perms = sig.shape
    rows = perms // bands
    found = []
    with np.errstate(over="ignore"):
        for band in range(bands):
            block = sig[:, band * rows : (band + 1) * rows].astype(np.uint64)
            key = np.zeros(n, dtype=np.uint64)
            for k in range(rows):
                key *= U(0x100000001B3)
                key ^= _mix(block[:, k] + U(k + 1))
            order = np.argsort(key, kind="stable")
            sorted_keys = key[order]
            for off in range(1, min(_NEIGHBOURS, n - 1) + 1):
                same = sorted_keys[off:] == sorted_keys[:-off]
                if not same.any():
                    break
                found.append(np.stack([order[:-off][same], order[off:][same]], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found).astype(np.int64)
    pairs.sort(axis=1)
    return np.unique(pairs, axis=0)


@dataclass
class DedupResult:
    keep: list[bool]
    duplicate_of: dict[int, int] = field(default_factory=dict)  # dropped row -> kept row
    candidates: int = 0
    verified: int = 0


def deduplicate(
    texts: list[str], *, threshold: float, num_perm: int, bands: int, seed: int, shingle_words: int
) -> DedupResult:
    """Keep-first near-duplicate removal in the order given; see the module docstring."""
    sig = signatures(texts, num_perm=num_perm, seed=seed, shingle_words=shingle_words)
    return deduplicate_signatures(sig, threshold=threshold, bands=bands)


def deduplicate_signatures(sig: np.ndarray, *, threshold: float, bands: int) -> DedupResult:
    n = len(sig)
    pairs = candidate_pairs(sig, bands) if n > 1 else np.zeros((0, 2), dtype=np.int64)
    if len(pairs):
        sim = (sig[pairs[:, 0]] == sig[pairs[:, 1]]).mean(axis=1)
        close = pairs[sim > threshold]
    else:
        close = pairs
    keep = np.ones(n, dtype=bool)
    dup_of: dict[int, int] = {}
    # Pairs sorted by the later row: when a row is decided, every earlier row already is.
    for earlier, later in close[np.lexsort((close[:, 0], close[:, 1]))].tolist():
        if keep[later] and keep[earlier]:
            keep[later] = False
            dup_of[later] = earlier
    return DedupResult(keep.tolist(), dup_of, candidates=len(pairs), verified=len(close))
