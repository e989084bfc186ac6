"""Everything a trainer reads from a soft-label artifact besides the shards: trie, special tokens, titles.

A `soft-labels` artifact directory (Schemas/soft-labels.md) holds, next to its MDS shards, copies of the trie
arrays (`trie.*.npy`, `items.*.npy`, Schemas/trie.md), `tokenizer.json`, `special_tokens.json`, `items.jsonl`
(titles by item id) and `report.json` (the stage's configuration: prompt template, `prompt_bos`, BOS/EOS/PAD
ids). `SoftLabelArtifact` loads them once and precomputes what the training step and constrained decoding
index into, so neither walks the trie:

- `child_tokens` / `child_offsets`: CSR of the children's token ids per node (sorted by token, as the trie
  stores them): the tokens the trie allows after node v are `child_tokens[child_offsets[v]:child_offsets[v+1]]`;
- `child_nodes`: the matching child node ids (decoding steps from a node to its child with a token);
- `leaf_title`: the title of every EOS leaf (items with identical titles share a leaf).
"""
from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ArtifactError", "SoftLabelArtifact"]

NO_NODE = 0xFFFFFFFF


class ArtifactError(ValueError):
    """A soft-label artifact that lacks a file or whose files disagree; the message names the file."""


def _load(directory: pathlib.Path, name: str) -> np.ndarray:
    path = directory / name
    if not path.exists():
        raise ArtifactError(f"'{path}' does not exist; pass a soft-labels artifact directory (it holds copies of "
                            f"the trie arrays), e.g. .tca/runs/<pipeline>/soft-labels")
    try:
        return np.load(path)
    except ValueError as error:
        raise ArtifactError(f"'{path}' is not a NumPy .npy file ({error}); rerun the soft-labels stage") from None


@dataclass(frozen=True)
class SpecialTokens:
    """The tokenizer's special token ids (None where the tokenizer has none)."""

    bos: int | None
    eos: int
    pad: int | None
    vocab_size: int


class SoftLabelArtifact:
    """The non-shard files of a soft-labels artifact, loaded once.

    - Parameters:
      - directory: the artifact directory (`.tca/runs/<pipeline>/soft-labels` or a store entry).
    - Raises: `ArtifactError` naming the file when one is missing or inconsistent.
    """

    def __init__(self, directory: str | pathlib.Path) -> None:
        self.directory = pathlib.Path(directory)
        if not (self.directory / "index.json").exists():
            raise ArtifactError(f"'{self.directory / 'index.json'}' does not exist; pass a soft-labels artifact "
                                f"directory, e.g. .tca/runs/<pipeline>/soft-labels")
        self.report: dict[str, Any] = self._json("report.json")
        self.configuration: dict[str, Any] = self.report.get("configuration", {})
        special = self._json("special_tokens.json")
        try:
            self.special = SpecialTokens(
                bos=special["bos"]["id"] if special.get("bos") else None,
                eos=int(special["eos"]["id"]),
                pad=special["pad"]["id"] if special.get("pad") else None,
                vocab_size=int(special["vocab_size"]))
        except (KeyError, TypeError) as error:
            raise ArtifactError(f"'{self.directory / 'special_tokens.json'}' lacks field {error}; rerun the "
                                f"tokenizer stage") from None

        node_token = _load(self.directory, "trie.node_token.npy").astype(np.int64)
        offsets = _load(self.directory, "trie.child_offsets.npy").astype(np.int64)
        children = _load(self.directory, "trie.children.npy").astype(np.int64)
        if len(offsets) != len(node_token) + 1 or offsets[-1] != len(children):
            raise ArtifactError(f"'{self.directory / 'trie.child_offsets.npy'}' has {len(offsets)} entries ending at "
                                f"{offsets[-1]} for {len(node_token)} nodes and {len(children)} children; the trie "
                                f"arrays are inconsistent, rerun the trie stage")
        self.node_count = len(node_token)
        self.node_token = node_token
        self.child_offsets = offsets
        self.child_nodes = children
        self.child_tokens = node_token[children]
        self.child_counts = np.diff(offsets)
        self.node_depth = _load(self.directory, "trie.node_depth.npy").astype(np.int64)
        self.item_leaf = _load(self.directory, "items.leaf.npy").astype(np.int64)
        self.item_token_offsets = _load(self.directory, "items.token_offsets.npy").astype(np.int64)
        self.item_tokens = _load(self.directory, "items.tokens.npy").astype(np.int64)
        self.item_count = len(self.item_leaf) - 1
        self.max_depth = int(self.node_depth.max()) if self.node_count else 0

        self.titles = self._titles()
        leaf_title: dict[int, str] = {}
        for item in range(1, self.item_count + 1):
            leaf_title.setdefault(int(self.item_leaf[item]), self.titles.get(item, str(item)))
        self.leaf_title = leaf_title
        # (node << 32 | token) → child node: one dictionary lookup per decoding step and beam.
        parents = np.repeat(np.arange(self.node_count, dtype=np.int64), self.child_counts)
        self._step = dict(zip(((parents << 32) | self.child_tokens).tolist(), self.child_nodes.tolist()))

    # -------------------------------------------------------------------------------------------- files

    def _json(self, name: str) -> Any:
        path = self.directory / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArtifactError(f"'{path}' does not exist; the soft-labels artifact is incomplete, rerun the "
                                f"soft-labels stage") from None
        except json.JSONDecodeError as error:
            raise ArtifactError(f"'{path}' is not JSON ({error}); rerun the soft-labels stage") from None

    def _titles(self) -> dict[int, str]:
        path = self.directory / "items.jsonl"
        titles: dict[int, str] = {}
        try:
            with path.open(encoding="utf-8") as lines:
                for number, line in enumerate(lines, 1):
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    if record.get("title") is not None:
                        titles[int(record["id"])] = record["title"]
        except FileNotFoundError:
            raise ArtifactError(f"'{path}' does not exist; the soft-labels artifact is incomplete") from None
        except (json.JSONDecodeError, KeyError, ValueError) as error:
            raise ArtifactError(f"'{path}' line {number}: {error}; rerun the soft-labels stage") from None
        return titles

    # -------------------------------------------------------------------------------------------- trie

    def children(self, node: int) -> np.ndarray:
        """The token ids the trie allows after `node` (sorted)."""
        return self.child_tokens[self.child_offsets[node]:self.child_offsets[node + 1]]

    def step(self, node: int, token: int) -> int | None:
        """The child of `node` along `token`, or None when the trie has no such edge."""
        return self._step.get((node << 32) | token)

    def walk(self, tokens: Any) -> int | None:
        """The node reached from the root along `tokens`, or None when the path leaves the trie."""
        node: int | None = 0
        for token in tokens:
            node = self._step.get((node << 32) | int(token))
            if node is None:
                return None
        return node

    def item_title(self, item: int) -> str:
        """The title of item `item` (its raw id when it has none, as the prompt does)."""
        return self.titles.get(item, str(item))

    def item_path(self, item: int) -> np.ndarray:
        """Item `item`'s title tokens + EOS."""
        return self.item_tokens[self.item_token_offsets[item]:self.item_token_offsets[item + 1]]

    def padded_children(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(token ids [n, C], mask [n, C]) of the children of every node in `nodes`, padded to the widest
        (C ≥ 1); padding entries have token 0 and mask False. Pure indexing into the precomputed CSR."""
        nodes = np.asarray(nodes, dtype=np.int64)
        counts = self.child_counts[nodes]
        width = max(int(counts.max()) if len(counts) else 1, 1)
        columns = np.arange(width)
        mask = columns[None, :] < counts[:, None]
        index = np.where(mask, self.child_offsets[nodes][:, None] + columns[None, :], 0)
        tokens = np.where(mask, self.child_tokens[index] if len(self.child_tokens) else 0, 0)
        return tokens, mask

    @property
    def prompt_bos(self) -> bool:
        """Whether `input_ids` start with the BOS id (report.json's configuration)."""
        return bool(self.configuration.get("prompt_bos")) and self.special.bos is not None

    @property
    def has_prompts(self) -> bool:
        return self.configuration.get("prompt_template") is not None
