"""The papers held out of training for the evaluation: a split by paper id alone."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def heldout_mask(paper_ids: Sequence[str], fraction: float, seed: int = 1) -> np.ndarray:
    """Boolean mask of the papers held out of training for evaluation.

    A paper is held out when the first 8 bytes of ``sha256(f"{seed}:{paper_id}")`` read as
    a fraction of 2**64 fall below ``fraction``: the split depends on the id alone, not on
    the corpus order or size, so a paper stays held out when the corpus grows.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"held-out fraction must be in [0, 1), got {fraction}")
    hashes = np.fromiter(
        (int.from_bytes(hashlib.sha256(f"{seed}:{pid}".encode()).digest()[:8], "big") for pid in paper_ids),
        dtype=np.uint64, count=len(paper_ids),
    )
    return hashes < np.uint64(min(int(fraction * 2**64), 2**64 - 1))
