"""The kit's small language model: the stand-in for Vicuna in the LLaVA assignment.

A decoder-only Transformer (nanoGPT's shape: pre-LN blocks, learned positions, a head tied to the
token embedding) over a word-level vocabulary with the special tokens a LLaVA conversation needs.
It is pretrained on text alone (see mmkit.lm_data and `make checkpoints`) and shipped in data/.
Like a Hugging Face causal LM, `forward` takes input embeddings and shifts the labels itself.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, BOS, EOS, IMAGE, UNK = "<pad>", "<s>", "</s>", "<image>", "<unk>"
USER, ASSISTANT = "USER:", "ASSISTANT:"
SPECIAL = [PAD, BOS, EOS, IMAGE, UNK, USER, ASSISTANT]
IGNORE_INDEX = -100            # label of positions that carry no loss (as in LLaVA and PyTorch)
SYSTEM = "A chat about shapes."   # the system sentence of every conversation
TOKEN = re.compile(r"<pad>|<s>|</s>|<image>|<unk>|USER:|ASSISTANT:|[A-Za-z0-9]+|[.,:?!]")


class WordTokenizer:
    """Words, digits and punctuation are tokens; so is each special token."""

    def __init__(self, words: list[str]):
        self.itos = SPECIAL + sorted(set(words) - set(SPECIAL))
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def split(self, text: str) -> list[str]:
        """'USER: Is there a Red circle?' -> ['USER:', 'is', 'there', 'a', 'red', 'circle', '?']"""
        return [t if t in SPECIAL else t.lower() for t in TOKEN.findall(text)]

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(t, self.stoi[UNK]) for t in self.split(text)]

    def decode(self, ids) -> str:
        words = [self.itos[int(i)] for i in ids]
        return re.sub(r" ([.,:?!])", r"\1", " ".join(words))

    def id(self, token: str) -> int:
        return self.stoi[token]

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps({"itos": self.itos}, indent=0))

    @classmethod
    def load(cls, path: Path) -> "WordTokenizer":
        tokenizer = cls([])
        tokenizer.itos = json.loads(Path(path).read_text())["itos"]
        tokenizer.stoi = {w: i for i, w in enumerate(tokenizer.itos)}
        return tokenizer


@dataclass
class GPTConfig:
    vocab_size: int = 128        # set from the tokenizer
    context_length: int = 96     # longest sequence: image tokens, prompt and answer
    width: int = 96              # embedding width: small enough to fine-tune in a minute on a CPU
    layers: int = 3              # Transformer blocks
    heads: int = 4               # attention heads (24 dimensions each)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.heads = cfg.heads
        self.ln_1 = nn.LayerNorm(cfg.width)
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.width)
        self.ln_2 = nn.LayerNorm(cfg.width)
        self.mlp = nn.Sequential(nn.Linear(cfg.width, 4 * cfg.width), nn.GELU(), nn.Linear(4 * cfg.width, cfg.width))

    def forward(self, x, mask):
        """x (B, T, D); mask (B, 1, T, T) bool, True where a query may attend to a key."""
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln_1(x)).split(D, dim=2)                          # 3 x (B, T, D)
        q, k, v = (t.view(B, T, self.heads, D // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, d)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)                # (B, H, T, d)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, D))                      # (B, T, D)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.width)
        self.position_embedding = nn.Embedding(cfg.context_length, cfg.width)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.width)
        self.head = nn.Linear(cfg.width, cfg.vocab_size, bias=False)
        self.head.weight = self.token_embedding.weight          # tied, as in GPT-2 and nanoGPT
        self.apply(self._init)
        for name, p in self.named_parameters():                  # GPT-2's scaled residual init
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.layers))

    @staticmethod
    def _init(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def embed(self, ids):
        """Token ids (B, T) -> token embeddings (B, T, D), without positions."""
        return self.token_embedding(ids)

    def forward(self, inputs_embeds, attention_mask=None, position_ids=None, labels=None):
        """inputs_embeds (B, T, D); attention_mask (B, T), 1 for real tokens and 0 for padding;
        position_ids (B, T), default 0..T-1; labels (B, T) with IGNORE_INDEX where no loss.
        Returns (logits (B, T, V), loss or None). Like Hugging Face causal LMs, the labels are
        shifted here: the logits at position t are scored against labels[t + 1]."""
        B, T, _ = inputs_embeds.shape
        if position_ids is None:
            position_ids = torch.arange(T, device=inputs_embeds.device).expand(B, T)
        x = inputs_embeds + self.position_embedding(position_ids)                 # (B, T, D)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()          # (T, T) causal
        mask = mask.expand(B, 1, T, T)
        if attention_mask is not None:                                             # padding keys
            mask = mask & attention_mask.bool()[:, None, None, :]
            mask = mask | torch.eye(T, dtype=torch.bool, device=x.device)           # a row never empty
        for block in self.blocks:
            x = block(x, mask)
        logits = self.head(self.ln_f(x))                                           # (B, T, V)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                   ignore_index=IGNORE_INDEX)
        return logits, loss


def save_checkpoint(model: GPT, tokenizer: WordTokenizer, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"config": asdict(model.cfg), "state_dict": model.state_dict()}, folder / f"{name}.pt")
    tokenizer.save(folder / f"{name}-tokenizer.json")


def load_checkpoint(path_pt: Path, path_tokenizer: Path) -> tuple[GPT, WordTokenizer]:
    blob = torch.load(path_pt, map_location="cpu", weights_only=True)
    model = GPT(GPTConfig(**blob["config"]))
    model.load_state_dict(blob["state_dict"])
    return model.eval(), WordTokenizer.load(path_tokenizer)
