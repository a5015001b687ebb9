"""Build the pretrained parts that later assignments load from data/checkpoints/.

    python data/build_checkpoints.py            # everything
    python data/build_checkpoints.py lm         # one part: clip_vision, lm, wavenet or vocoder

- clip_vision.pt: the vision tower of the CLIP reference solution, trained at full length by
  running solutions/clip/clip.ipynb as a student would and saving `model.visual`.
- lm.pt, lm-tokenizer.json: the kit's small language model (mmkit.lm), pretrained on text
  alone: captions, and conversations in the LLaVA template in which the scene is written out as
  text (mmkit.shapes_qa). It plays Vicuna's part: it can follow the conversation format, but has
  never seen an image.
- wavenet.pt: the WaveNet of the WaveNet assignment (its solution's own classes, read from
  solutions/wavenet/wavenet.ipynb), twice as wide as the notebook's default, trained for 8000
  steps on the Spoken training clips at 8 kHz. It is the one part that wants a GPU: about 5
  minutes on an H200, hours on 2 CPU cores.
- wavenet_vocoder.pt: the same classes with local conditioning on mel spectrograms (the
  notebook's MelWaveNet), as wide, 3250 steps of 48 windows: about 2 minutes on an H200, hours on
  2 CPU cores.

clip_vision and lm take about 8 minutes together on 2 CPU cores.
Each run is seeded and deterministic on the same machine; data/MANIFEST.json records the hashes.
"""
from __future__ import annotations

import hashlib
import json
import math
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


WAVENET_CELLS = ["constants", "mu_law", "causal_conv", "config", "residual_block", "wavenet", "wavenet_loss", "vocoder"]
# the notebook's WaveNetConfig, twice as wide: students train the default width for a minute
WAVENET_PRETRAINED = {"residual_channels": 64, "gate_channels": 64, "skip_channels": 128}
# the vocoder: as wide, with a shorter receptive field (the mel spectrogram carries the rest)
VOCODER = {**WAVENET_PRETRAINED, "dilations": tuple(2 ** i for i in range(8)) * 2}
VOCODER_STEPS = 3250


def wavenet_definitions() -> dict:
    """Run the cells of the WaveNet solution that define mu-law, the model and the vocoder, so that
    the checkpoints have exactly the architecture students build (read as JSON: no Jupyter needed)."""
    import math
    from dataclasses import dataclass

    import numpy as np
    notebook = json.loads((ROOT / "solutions" / "wavenet" / "wavenet.ipynb").read_text())
    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "np": np, "math": math,
                 "dataclass": dataclass, "print": lambda *args, **kwargs: None}
    try:
        import librosa   # for the vocoder's log_mel; a GPU machine may train without it
        namespace["librosa"] = librosa
    except ImportError:
        pass
    cells = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"]) for c in notebook["cells"]}
    for grade_id in WAVENET_CELLS:
        exec(cells[grade_id], namespace)
    return namespace


def wavenet_training_data(definitions: dict, with_mel: bool = False) -> list[tuple]:
    """The Spoken training clips at the notebook's rate: (mu-law levels, speaker index, log mel or None)."""
    from mmkit.data import spoken_clips
    return [(torch.from_numpy(definitions["mu_law_encode"](c["audio"])), c["speaker"],
             torch.from_numpy(definitions["log_mel"](c["audio"])) if with_mel else None)
            for c in spoken_clips("train", definitions["SAMPLE_RATE"])]


def train_wavenet(definitions: dict, data, config: dict, vocoder: bool = False, steps: int = 8000,
                  batch_size: int = 32, length: int = 6000, lr: float = 2e-3, seed: int = 0,
                  device: str | None = None):
    """Teacher-forced next-sample training on random windows, as in the notebook, only longer."""
    import numpy as np

    from mmkit.data import random_windows
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model_class = definitions["MelWaveNet" if vocoder else "WaveNet"]
    model = model_class(definitions["WaveNetConfig"](**config)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    start = time.monotonic()
    for step in range(steps):
        q, speaker, mel = random_windows(data, batch_size, length, rng, hop=definitions["HOP"] if vocoder else 1)
        q, speaker = q.to(device), speaker.to(device)
        logits = model(q, speaker, mel.to(device)) if vocoder else model(q, speaker)
        loss = definitions["wavenet_loss"](logits, q)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 250 == 0 or step == steps - 1:
            print(f"{'vocoder' if vocoder else 'wavenet'} step {step}: {loss.item() / math.log(2):.3f} bits "
                  f"({time.monotonic() - start:.0f} s)", flush=True)
    return model.cpu().eval(), steps


def save_wavenet(definitions: dict, model, steps: int, name: str) -> list[Path]:
    from dataclasses import asdict
    target = OUT / f"{name}.pt"
    OUT.mkdir(parents=True, exist_ok=True)
    torch.save({"config": asdict(model.cfg), "state_dict": model.state_dict(), "steps": steps,
                "sample_rate": definitions["SAMPLE_RATE"]}, target)
    return [target]


def build_wavenet() -> list[Path]:
    definitions = wavenet_definitions()
    model, steps = train_wavenet(definitions, wavenet_training_data(definitions), WAVENET_PRETRAINED)
    return save_wavenet(definitions, model, steps, "wavenet")


def build_vocoder() -> list[Path]:
    definitions = wavenet_definitions()
    data = wavenet_training_data(definitions, with_mel=True)
    model, steps = train_wavenet(definitions, data, VOCODER, vocoder=True, steps=VOCODER_STEPS, batch_size=48, length=4096)
    return save_wavenet(definitions, model, steps, "wavenet_vocoder")


def update_manifest(paths: list[Path]) -> None:
    manifest_path = DATA / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    for path in paths:
        manifest[path.relative_to(DATA).as_posix()] = {
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size,
            "rebuild": "make checkpoints"}
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")


if __name__ == "__main__":
    builders = {"clip_vision": build_clip_vision, "lm": build_lm, "wavenet": build_wavenet, "vocoder": build_vocoder}
    parts = sys.argv[1:] or list(builders)
    for part in parts:
        update_manifest(builders[part]())
