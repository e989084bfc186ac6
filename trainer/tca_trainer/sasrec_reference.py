"""SASRec as critical88/TCA4Rec sasrec/model.py defines it, restated for CPU and any device, with the
official parameter names, so a state_dict moves between the two unchanged. Used by the parity tests
(our Swift SASRec must give the same scores) and by the benchmark (our epoch time against PyTorch's).

Semantics kept from the official module: item embedding scaled by sqrt(d) plus a learned position
embedding, dropout, timeline mask; per block Q = LayerNorm(x), MultiheadAttention(Q, x, x) with a
causal mask and attention dropout, x = Q + attention, LayerNorm, point-wise FFN (Conv1d kernel 1,
dropout, ReLU, Conv1d, dropout, + input), timeline mask; a final LayerNorm (eps 1e-8); the user
vector is the last position; logits = user vector · item embeddings (padding row included, as the
official forward returns them). Loss `compute_loss`: BCE with logits on the target and one uniform
negative that is not in the sequence or the target.
"""
from __future__ import annotations

import torch
from torch import nn


class PointWiseFeedForward(nn.Module):
    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.conv1 = nn.Conv1d(hidden, hidden, kernel_size=1)
        self.dropout1 = nn.Dropout(p=dropout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv1d(hidden, hidden, kernel_size=1)
        self.dropout2 = nn.Dropout(p=dropout)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = self.conv1(inputs.transpose(-1, -2))
        hidden = self.conv2(self.relu(self.dropout1(hidden)))
        return self.dropout2(hidden).transpose(-1, -2) + inputs


class SASRec(nn.Module):
    def __init__(self, item_num: int, hidden: int = 64, blocks: int = 2, heads: int = 1, maxlen: int = 10,
                 dropout: float = 0.5):
        super().__init__()
        self.item_num = item_num
        self.item_emb = nn.Embedding(item_num + 1, hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(maxlen, hidden)
        self.emb_dropout = nn.Dropout(p=dropout)
        self.attention_layernorms = nn.ModuleList()
        self.attention_layers = nn.ModuleList()
        self.forward_layernorms = nn.ModuleList()
        self.forward_layers = nn.ModuleList()
        self.last_layernorm = nn.LayerNorm(hidden, eps=1e-8)
        for _ in range(blocks):
            self.attention_layernorms.append(nn.LayerNorm(hidden, eps=1e-8))
            self.attention_layers.append(nn.MultiheadAttention(hidden, heads, dropout))
            self.forward_layernorms.append(nn.LayerNorm(hidden, eps=1e-8))
            self.forward_layers.append(PointWiseFeedForward(hidden, dropout))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)
        if isinstance(module, nn.Linear) and module.bias is not None:
            module.bias.data.zero_()

    def log2feats(self, log_seqs: torch.Tensor) -> torch.Tensor:
        seqs = self.item_emb(log_seqs) * self.item_emb.embedding_dim ** 0.5
        positions = torch.arange(log_seqs.shape[1], device=log_seqs.device).unsqueeze(0).expand(log_seqs.shape[0], -1)
        seqs = self.emb_dropout(seqs + self.pos_emb(positions))
        keep = (log_seqs != 0).unsqueeze(-1)
        seqs = seqs * keep
        length = seqs.shape[1]
        causal = ~torch.tril(torch.ones((length, length), dtype=torch.bool, device=log_seqs.device))
        for i in range(len(self.attention_layers)):
            seqs = seqs.transpose(0, 1)
            query = self.attention_layernorms[i](seqs)
            attended, _ = self.attention_layers[i](query, seqs, seqs, attn_mask=causal)
            seqs = (query + attended).transpose(0, 1)
            seqs = self.forward_layers[i](self.forward_layernorms[i](seqs))
            seqs = seqs * keep
        return self.last_layernorm(seqs)

    def forward(self, log_seqs: torch.Tensor) -> torch.Tensor:
        final = self.log2feats(log_seqs)[:, -1, :]
        return final @ self.item_emb.weight.t()

    def compute_loss(self, seq: torch.Tensor, pos: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The official loss: full logits, gather the target and one uniform negative not in seq ∪ {pos}."""
        pos = pos.unsqueeze(-1)
        weights = torch.ones((seq.shape[0], self.item_num + 1), device=seq.device)
        rows = torch.arange(seq.shape[0], device=seq.device).view(-1, 1)
        weights[rows, torch.cat([seq, pos], dim=1)] = 0
        weights[:, 0] = 0
        neg = torch.multinomial(weights, 1, replacement=False, generator=generator)
        logits = self.forward(seq)
        both = torch.cat((torch.gather(logits, 1, pos), torch.gather(logits, 1, neg)), 0)
        labels = torch.cat((torch.ones_like(both[: seq.shape[0]]), torch.zeros_like(both[seq.shape[0]:])), 0)
        return nn.functional.binary_cross_entropy_with_logits(both, labels)


def left_padded(histories: list[list[int]], maxlen: int) -> torch.Tensor:
    """The last `maxlen` items of each history, left-padded with 0 (the official SeqDataset layout)."""
    rows = []
    for history in histories:
        tail = list(history)[-maxlen:]
        rows.append([0] * (maxlen - len(tail)) + tail)
    return torch.tensor(rows, dtype=torch.long)
