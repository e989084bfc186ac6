"""The soft next-token loss of TCA4Rec (critical88/TCA4Rec models/LLM4Rec.py `forward`), from sparse labels.

For a supervised position with logits s over the vocabulary, label y and the CF distribution p (sparse: the
kept children of the position's trie node and their probabilities, not renormalised):

    ỹ    = (1 − α)·onehot(y) + α·p
    loss = log Σ_v exp((s_v − m)/τ) − log Σ_v ỹ_v·exp((s_v − m)/τ),      m = max_v s_v

in float32, averaged over the supervised positions. With MSL (the masked-softmax variant) both sums, and the
maximum, run over the children of the position's node only (the official code sets the other logits to −∞).
Since ỹ is sparse, the second sum only gathers the label and the kept children; without MSL the loss is
−log Σ_v ỹ_v·softmax(s/τ)_v through one fused log-softmax (which subtracts the maximum itself), so it costs
what cross-entropy costs; with MSL everything runs over the gathered children.
"""
from __future__ import annotations

import torch

__all__ = ["soft_ntp_loss"]


def soft_ntp_loss(logits: torch.Tensor, targets: torch.Tensor, soft_ids: torch.Tensor, soft_probs: torch.Tensor,
                  alpha: float, tau: float, allowed_ids: torch.Tensor | None = None,
                  allowed_mask: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """The soft next-token loss of the official code, for S supervised positions.

    - Parameters:
      - logits: [S, V] the model's logits at the supervised positions (any float dtype; computed in float32,
        or float64 when given float64).
      - targets: [S] the label token ids.
      - soft_ids, soft_probs: [S, K] the kept CF children and probabilities per position; padding entries
        have probability 0 (any id).
      - alpha: weight of the CF distribution (0 gives cross-entropy with temperature τ).
      - tau: the logits' temperature (official: 4.5 with MSL, 1 without).
      - allowed_ids, allowed_mask: [S, C] the trie children's token ids of each position's node and which
        entries are real; given, the loss is the MSL variant (sums over the children only).
      - reduction: "mean" over positions (the official), "sum", or "none" ([S]).
    - Returns: the loss (a scalar unless reduction is "none"); 0 when S is 0.
    - Complexity: O(S·V) without MSL (one log-softmax over the logits, as cross-entropy), O(S·(C + K)) with it.
    """
    dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32
    scores = logits.to(dtype)
    if scores.shape[0] == 0:
        zero = scores.sum() * 0.0
        return zero if reduction != "none" else scores.new_zeros(0)
    targets = targets.long()
    soft_ids = soft_ids.long()
    weights = torch.cat([torch.full_like(targets, 1.0, dtype=dtype).unsqueeze(1) * (1.0 - alpha),
                         soft_probs.to(dtype) * alpha], dim=1)                      # [S, 1 + K]
    chosen = torch.cat([targets.unsqueeze(1), soft_ids], dim=1)                     # [S, 1 + K]
    if allowed_ids is None:
        # −log Σ_v ỹ_v·softmax(s/τ)_v: one fused log-softmax over the vocabulary (it subtracts the maximum
        # itself), as cheap as cross-entropy, then a gather of the label and the kept children only.
        log_probabilities = torch.log_softmax(scores / tau if tau != 1.0 else scores, dim=-1)
        selected = log_probabilities.gather(1, chosen)
        # log Σ w·p as logsumexp(log p + log w): zero weights (padding, α = 0 or 1) contribute nothing.
        loss = -torch.logsumexp(selected + torch.log(weights), dim=-1)
    else:
        allowed_ids = allowed_ids.long()
        allowed = scores.gather(1, allowed_ids).masked_fill(~allowed_mask, float("-inf"))
        # d/dm of the loss is 0, so detaching the maximum changes no gradient.
        maximum = allowed.max(dim=-1, keepdim=True).values.detach()
        normaliser = torch.logsumexp((allowed - maximum) / tau, dim=-1)
        selected = (scores.gather(1, chosen) - maximum) / tau
        loss = normaliser - torch.logsumexp(selected + torch.log(weights), dim=-1)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()
