"""MinHash signatures of article texts: what extraction workers compute for near-duplicate search.

Kept apart from `transforms.dedup` (clustering in DuckDB) so extraction processes import only
numpy and rensa, not duckdb and pyarrow. Shingling and the LSH split are described there.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

SHINGLE_SIZE = 5
# rensa 0.5's RMinHash, 128 permutations, seed 1. Replaced datasketch (issue 6): 20x faster per
# article, and datasketch's package import pulls in scipy (57 MB and 2 s in every process).
SIGNATURE_SCHEME = "rensa-rminhash-128-1"
MIN_SHINGLES = 3
NUM_PERM = 128
SEED = 1
BANDS = 25
ROWS = 5
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_\u3400-\u9fff\uf900-\ufaff]+")
_FNV_PRIME = np.uint64(1099511628211)
_FNV_OFFSET = np.uint64(14695981039346656037)


def tokens(text: str) -> list[str]:
    """Lower-cased words, and single CJK characters, of NFKC-normalised text."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def normalise_title(title: str | None) -> str:
    """Title reduced to its tokens, so punctuation and case differences do not matter."""
    return " ".join(tokens(title or ""))


def shingle_set(title: str | None, text: str) -> set[str]:
    """Word shingles of the text plus the normalised title as one extra shingle."""
    words = tokens(text)
    found = {" ".join(words[i : i + SHINGLE_SIZE]) for i in range(len(words) - SHINGLE_SIZE + 1)}
    if len(found) < MIN_SHINGLES:
        return set()
    title_key = normalise_title(title)
    if title_key:
        found.add("title:" + title_key)
    return found


def compute_signature(title: str | None, text: str) -> str | None:
    """Hex MinHash signature (NUM_PERM uint32 values), or None for texts too short to compare."""
    shingles = shingle_set(title, text)
    if not shingles:
        return None
    from rensa import RMinHash  # imported lazily: only extraction workers need it

    minhash = RMinHash(num_perm=NUM_PERM, seed=SEED)
    minhash.update(list(shingles))
    return np.asarray(minhash.digest(), dtype=np.uint32).tobytes().hex()


def signature_matrix(signatures: Sequence[str | bytes]) -> np.ndarray:
    """Rows of uint32 values from hex strings or stored BLOBs."""
    if not signatures:
        return np.zeros((0, NUM_PERM), dtype=np.uint32)
    raw = b"".join(bytes.fromhex(s) if isinstance(s, str) else bytes(s) for s in signatures)
    return np.frombuffer(raw, dtype=np.uint32).reshape(len(signatures), NUM_PERM)


def band_buckets(matrix: np.ndarray) -> np.ndarray:
    """(n, BANDS) uint64 bucket keys: an FNV-1a hash of each band's ROWS values."""
    bands = matrix[:, : BANDS * ROWS].reshape(len(matrix), BANDS, ROWS).astype(np.uint64)
    keys = np.full((len(matrix), BANDS), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(ROWS):
            keys = (keys ^ bands[:, :, r]) * _FNV_PRIME
    return keys


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity: the share of equal MinHash values."""
    return float(np.mean(a == b))
