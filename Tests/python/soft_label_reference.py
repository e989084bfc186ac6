"""The brute-force float64 reference for token-level soft labels (ARCHITECTURE.md §1), written apart from
the stage: used by test_soft_labels.py and test_imported_scores.py."""
from __future__ import annotations

import numpy as np


def reference_distribution(scores: np.ndarray, under: np.ndarray, next_tokens: np.ndarray) -> dict[int, float]:
    """softmax over the items `under` the prefix (float64), summed by each item's next token."""
    shifted = scores[under] - scores[under].max()
    masses = np.exp(shifted)
    masses /= masses.sum()
    continuing = next_tokens >= 0  # an item whose tokens end at the prefix keeps its mass in the denominator
    children, inverse = np.unique(next_tokens[continuing], return_inverse=True)
    probabilities = np.bincount(inverse, weights=masses[continuing], minlength=len(children))
    return dict(zip(children.tolist(), probabilities.tolist()))
