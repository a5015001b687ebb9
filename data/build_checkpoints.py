"""Build the pretrained parts that later assignments load from data/checkpoints/.

    python data/build_checkpoints.py            # everything (about 8 minutes on 2 CPU cores)
    python data/build_checkpoints.py lm         # one part: clip_vision or lm

- clip_vision.pt: the vision tower of the CLIP reference solution, trained at full length by
  running solutions/clip/clip.ipynb as a student would and saving `model.visual`.
- lm.pt, lm-tokenizer.json: the kit's small language model (mmkit.lm), pretrained on text
  alone: captions, and conversations in the LLaVA template in which the scene is written out as
  text (mmkit.shapes_qa). It plays Vicuna's part: it can follow the conversation format, but has
  never seen an image.

Each run is seeded and deterministic on the same machine; data/MANIFEST.json records the hashes.
"""
from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parent
ROOT = DATA.parent
OUT = DATA / "checkpoints"
sys.path.insert(0, str(ROOT / "src"))


def build_clip_vision() -> list[Path]:
    """Run the CLIP solution notebook (full budget) and save its vision tower."""
    import os

    import nbformat
    from nbclient import NotebookClient
    notebook = nbformat.read(str(ROOT / "solutions" / "clip" / "clip.ipynb"), as_version=4)
    target = OUT / "clip_vision.pt"
    notebook.cells.append(nbformat.v4.new_code_cell(
        "from dataclasses import asdict\n"
        f"torch.save({{'config': asdict(cfg), 'state_dict': model.visual.cpu().state_dict(),\n"
        f"            'pixel_mean': PIXEL_MEAN.flatten().tolist(), 'pixel_std': PIXEL_STD.flatten().tolist(),\n"
        f"            'zero_shot_seen': seen_acc, 'zero_shot_held_out': held_acc}}, {str(target)!r})"))
    os.environ.pop("NBGRADER_EXECUTION", None)
    os.environ.pop("MMKIT_QUICK", None)
    OUT.mkdir(parents=True, exist_ok=True)
    NotebookClient(notebook, timeout=1800, resources={"metadata": {"path": str(ROOT / "solutions" / "clip")}}).execute()
    return [target]


def pretraining_corpus(seed: int = 0) -> list[str]:
    """Text about the Shapes world: every training caption, and conversations about scenes
    written out as text, in the template the LLaVA assignment uses."""
    from mmkit import shapes_qa
    from mmkit.data import load_shapes
    from mmkit.lm import ASSISTANT, EOS, SYSTEM, USER
    rng = random.Random(seed)
    train = load_shapes("train")
    texts = []
    for objects, captions in zip(train["objects"], train["captions"]):
        texts += [f"{c} {EOS}" for c in captions]
        scene = shapes_qa.scene_text(objects)
        turns = [shapes_qa.question(objects, kind, rng) for kind in rng.sample(shapes_qa.QUESTION_TYPES, 2)]
        if rng.random() < 0.3:
            turns = [("Describe the image in detail.", shapes_qa.description(objects))]
        elif rng.random() < 0.3:
            turns = [shapes_qa.reasoning(objects, rng)]
        # the scene, written out, stands where the LLaVA assignment puts the image
        body = " ".join(f"{USER} {scene + ' ' if i == 0 else ''}{q} {ASSISTANT} {a} {EOS}" for i, (q, a) in enumerate(turns))
        texts.append(f"{SYSTEM} {body}")
    return texts


def build_lm(steps: int = 3000, batch_size: int = 64, seed: int = 0) -> list[Path]:
    from mmkit import lm
    torch.manual_seed(seed)
    texts = pretraining_corpus(seed)
    tokenizer = lm.WordTokenizer([t for text in texts for t in lm.WordTokenizer([]).split(text)])
    cfg = lm.GPTConfig(vocab_size=len(tokenizer))
    rows = [[tokenizer.id(lm.BOS)] + tokenizer.encode(t) for t in texts]
    rows = [r[: cfg.context_length] for r in rows]
    model = lm.GPT(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps, pct_start=0.05)
    rng = random.Random(seed)
    start = time.monotonic()
    for step in range(steps):
        batch = rng.sample(rows, batch_size)
        length = max(map(len, batch))
        ids = torch.full((batch_size, length), tokenizer.id(lm.PAD))
        for i, row in enumerate(batch):
            ids[i, : len(row)] = torch.tensor(row)
        mask = ids != tokenizer.id(lm.PAD)
        labels = ids.masked_fill(~mask, lm.IGNORE_INDEX)
        _, loss = model(model.embed(ids), attention_mask=mask, labels=labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 250 == 0 or step == steps - 1:
            print(f"lm step {step}: loss {loss.item():.3f} ({time.monotonic() - start:.0f} s)", flush=True)
    lm.save_checkpoint(model.eval(), tokenizer, OUT, "lm")
    return [OUT / "lm.pt", OUT / "lm-tokenizer.json"]


def update_manifest(paths: list[Path]) -> None:
    manifest_path = DATA / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    for path in paths:
        manifest[path.relative_to(DATA).as_posix()] = {
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size,
            "rebuild": "make checkpoints"}
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")


if __name__ == "__main__":
    parts = sys.argv[1:] or ["clip_vision", "lm"]
    builders = {"clip_vision": build_clip_vision, "lm": build_lm}
    for part in parts:
        update_manifest(builders[part]())
