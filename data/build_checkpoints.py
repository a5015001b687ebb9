"""Build the pretrained parts that later assignments load from data/checkpoints/.

    python data/build_checkpoints.py            # everything
    python data/build_checkpoints.py lm         # one part: clip_vision, lm, wavenet or vocoder

- clip_vision.pt: the vision tower of the CLIP reference solution, trained at full length by
  running solutions/clip/clip.ipynb as a student would and saving `model.visual`.
- lm.pt, lm-tokenizer.json: the kit's small language model (mmkit.lm), pretrained on text
  alone: captions, and conversations in the LLaVA template in which the scene is written out as
  text (mmkit.shapes_qa), every question in the "pretrain" phrasing (never the phrasing of the LLaVA
  assignment's instruction data and evaluation). It plays Vicuna's part: it can follow the
  conversation format, but has never seen an image. 3000 steps: 14 minutes on 2 CPU cores (a noisy
  day; about 7 on a quiet one).
- wavenet.pt: the WaveNet of the WaveNet assignment (its solution's own classes, read from
  solutions/wavenet/wavenet.ipynb), twice as wide as the notebook's default, trained for 8000
  steps on the Spoken training clips at 8 kHz. It is the one part that wants a GPU: about 5
  minutes on an H200, hours on 2 CPU cores.
- wavenet_vocoder.pt: the same classes with local conditioning on mel spectrograms (the
  notebook's MelWaveNet), as wide, 3250 steps of 48 windows: about 2 minutes on an H200, hours on
  2 CPU cores.

- valle_codec.pt: the VALL-E assignment's codec (its solution's classes: the student's RVQ in a
  small SEANet-style autoencoder). Stage 1: encoder, codebooks and a transposed-convolution decoder,
  3000 steps of 32 half-second windows with a multi-resolution spectral loss, an L1 waveform loss and
  the commitment loss (32 minutes on 2 CPU cores); it also records how many dead codes each codebook
  replaced at every step. Stage 2: the notebook's harmonic decoder on the frozen codes, 3000 steps
  (11 minutes).
- valle_judges.pt: mmkit.speech's CTC phoneme recogniser and speaker identifier, trained on the
  real Spoken training clips only (the independent judges of generated speech): about 3 minutes
  on 2 CPU cores.
- valle_ar.pt, valle_nar.pt (parts valle_ar, valle_nar): the solution's AR and NAR models trained
  on codec tokens of the Spoken training and extra clips (151 + 709 phrases; the extra split is
  synthesised here with espeak-ng, not stored), each target paired with a prompt of its speaker
  (needs valle_codec.pt), 6000 and 1500 steps: 127 and 23 minutes on 2 CPU cores. The NAR model's
  prompts are one short clip, as in the notebook; the AR model's are one, two or three short clips
  joined (AR_PROMPT_CLIPS), so that it can be prompted with 3 s, as VALL-E: 5000 steps (100 minutes),
  then a second stage of 1000 steps with mostly three-clip prompts (AR_LATE, 27 minutes). The NAR
  model attends over phonemes, prompt and target without a causal mask.

clip_vision takes about 4 minutes on 2 CPU cores.
Each run is seeded; the tests check that a short run repeats bit for bit on one thread (on more, a
math library may split sums differently, which can change the last bits). data/MANIFEST.json records
the hashes of the shipped files.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import re
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
    written out as text, in the chat template the LLaVA assignment uses but with the "pretrain"
    phrasing of every question (mmkit.shapes_qa.TEMPLATES): no question of LLaVA's instruction data or
    of its evaluation is ever asked here."""
    from mmkit import shapes_qa
    from mmkit.data import load_shapes
    from mmkit.lm import ASSISTANT, EOS, SYSTEM, USER
    rng = random.Random(seed)
    train = load_shapes("train")
    texts = []
    for objects, captions in zip(train["objects"], train["captions"]):
        texts += [f"{c} {EOS}" for c in captions]
        scene = shapes_qa.scene_text(objects)
        turns = [shapes_qa.question(objects, kind, rng, "pretrain") for kind in rng.sample(shapes_qa.QUESTION_TYPES, 2)]
        if rng.random() < 0.3:
            turns = [(shapes_qa.describe_request("pretrain"), shapes_qa.description(objects))]
        elif rng.random() < 0.3:
            turns = [shapes_qa.reasoning(objects, rng, "pretrain")]
        # the scene, written out, stands where the LLaVA assignment puts the image
        body = " ".join(f"{USER} {scene + ' ' if i == 0 else ''}{q} {ASSISTANT} {a} {EOS}" for i, (q, a) in enumerate(turns))
        texts.append(f"{SYSTEM} {body}")
    return texts


def vocabulary(texts: list[str]) -> list[str]:
    """The words of the pretraining text and of every question template. Like Vicuna's tokenizer,
    the vocabulary covers the language the model will be asked in; the instruction phrasing's own
    words ("what", "how", "many", ...) get embedding rows that pretraining never trains as inputs."""
    from mmkit import lm, shapes_qa
    split = lm.WordTokenizer([]).split
    templates = [t for phrasing in shapes_qa.TEMPLATES.values() for v in phrasing.values()
                 for t in (v if isinstance(v, list) else [v])]
    return [w for text in texts + [re.sub(r"\{\w+\}", " ", t) for t in templates] for w in split(text)]


def build_lm(steps: int = 3000, batch_size: int = 64, seed: int = 0) -> list[Path]:
    from mmkit import lm
    torch.manual_seed(seed)
    texts = pretraining_corpus(seed)
    tokenizer = lm.WordTokenizer(vocabulary(texts))
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


def _cells(assignment: str) -> dict[str, str]:
    """grade_id -> source of the solution notebook's cells (read as JSON: no Jupyter needed)."""
    notebook = json.loads((ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text())
    return {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"]) for c in notebook["cells"]}


def wavenet_definitions() -> dict:
    """Run the cells of the WaveNet solution that define mu-law, the model and the vocoder, so that
    the checkpoints have exactly the architecture students build (read as JSON: no Jupyter needed)."""
    import math
    from dataclasses import dataclass

    import numpy as np
    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "np": np, "math": math,
                 "dataclass": dataclass, "print": lambda *args, **kwargs: None}
    try:
        import librosa   # for the vocoder's log_mel; a GPU machine may train without it
        namespace["librosa"] = librosa
    except ImportError:
        pass
    cells = _cells("wavenet")
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


VALLE_CELLS = ["constants", "bitrate", "bitrate_table", "vq", "rvq", "codec", "phonemes", "phoneme_ids", "transformer",
               "attention_mask", "ar_targets", "ar_model", "adaln", "nar_model"]
VALLE_DATA_CELLS = ["encode", "pairs"]      # run with `codec` and `clips` in the namespace
CODEC_STEPS = 3000         # stage 1: encoder, RVQ and a transposed-convolution decoder
DECODER_STEPS = 3000       # stage 2: the notebook's harmonic decoder on the frozen codes
VALLE_STEPS = {"ar": 5000, "nar": 1500}   # the AR model then trains AR_LATE["steps"] more (build_valle)
AR_CORRUPTION = 0.3       # input codes replaced at random, so that the AR model must read the phonemes
AR_PROMPT_CLIPS = {1: 0.5, 2: 0.2, 3: 0.3}   # share of AR batches whose prompts join 1, 2 or 3 short clips
# stage 2 of the AR model: mostly 3-s prompts, drawn from far more combinations than stage 1's 100 a speaker
AR_LATE = {"steps": 1000, "lr": 3e-4, "seed": 1, "prompt_clips": {1: 0.3, 3: 0.7}, "per_speaker": 2000}


def extra_clips() -> list[dict]:
    """The Spoken extra split (not stored in data/), synthesised with espeak-ng, in the form of
    mmkit.data.spoken_clips(split, 8000): the same int16 samples a stored FLAC would decode to."""
    import importlib.util

    import librosa
    import numpy as np

    from mmkit.data import SPOKEN_SPEAKERS, phoneme_tokens
    spec = importlib.util.spec_from_file_location("build_spoken", DATA / "build_spoken.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    assert builder.EXTRA_SAMPLE_RATE == 8000
    return [{"audio": librosa.effects.trim(row["samples"].astype(np.float32) / 32768, top_db=40)[0],
             "speaker": SPOKEN_SPEAKERS.index(row["speaker"]), "text": row["text"],
             "phonemes": phoneme_tokens(row["phonemes"])}
            for row in builder.build_rows(["extra"])["extra"]]


def valle_definitions(with_data: bool = False, extra_phrases: bool = False) -> dict:
    """Run the VALL-E solution's cells that define the codec, the phonemes and both models (and, with
    data, the encoded Spoken clips and the notebook's training pairs), as for WaveNet. With
    `extra_phrases`, the training clips also hold the Spoken extra split: 709 more phrases."""
    import numpy as np

    import mmkit
    from mmkit.data import data_file, spoken_clips
    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "np": np, "math": math, "time": time, "mmkit": mmkit,
                 "dataclass": __import__("dataclasses").dataclass, "data_file": data_file,
                 "print": lambda *args, **kwargs: None}
    namespace["clips"] = {split: spoken_clips(split, 8000) for split in ["train", "test"]}
    if extra_phrases:
        namespace["clips"]["train"] += extra_clips()
    cells = _cells("valle")
    for grade_id in VALLE_CELLS:
        exec(cells[grade_id], namespace)
    if with_data:
        namespace["codec"] = namespace["load_codec"]()
        for grade_id in VALLE_DATA_CELLS:
            exec(cells[grade_id], namespace)
    return namespace


class SpectralLoss(torch.nn.Module):
    """Multi-resolution spectral reconstruction loss: at each STFT size, the mean L1 distance of log
    mel spectrograms (EnCodec's) plus that of log linear magnitudes (Parallel WaveGAN's), whose
    fine frequency resolution keeps the harmonics, hence the pitch, that mel bands blur."""

    def __init__(self, sample_rate: int = 8000, scales=(256, 512, 1024), n_mels: int = 64):
        super().__init__()
        import librosa
        self.scales = scales
        for n in scales:
            self.register_buffer(f"filters{n}", torch.tensor(librosa.filters.mel(sr=sample_rate, n_fft=n, n_mels=n_mels)))
            self.register_buffer(f"window{n}", torch.hann_window(n))

    def forward(self, out, target):
        l1 = torch.nn.functional.l1_loss
        total = 0
        for n in self.scales:
            stft = lambda x: torch.stft(x, n, hop_length=n // 4, window=getattr(self, f"window{n}"),
                                        return_complex=True).abs().pow(2)
            power_out, power_target = stft(out), stft(target)
            mel = getattr(self, f"filters{n}")
            total = total + l1(torch.log(mel @ power_out + 1e-5), torch.log(mel @ power_target + 1e-5))
            total = total + l1(torch.log(power_out + 1e-5), torch.log(power_target + 1e-5)) / 2
        return total / len(self.scales)


def conv_decoder(cfg, ResidualUnit):
    """Stage 1's decoder, EnCodec's mirror of the encoder: transposed convolutions up to the waveform. It
    trains the encoder and the codebooks; the notebook's harmonic decoder then replaces it (stage 2)."""
    nn = torch.nn
    channels = cfg.channels * 2 ** len(cfg.strides)
    layers = [nn.Conv1d(cfg.latent, channels, 7, padding=3)]
    for s in reversed(cfg.strides):   # T -> T x s
        layers += [nn.ELU(), nn.ConvTranspose1d(channels, channels // 2, 2 * s, stride=s, padding=(s + 1) // 2,
                                                output_padding=s % 2),
                   ResidualUnit(channels // 2, 1), ResidualUnit(channels // 2, 3)]
        channels //= 2
    return nn.Sequential(*layers, nn.ELU(), nn.Conv1d(channels, 1, 7, padding=3), nn.Tanh())


def random_crops(rng, items: list[tuple], batch_size: int, frames: int, hop: int) -> list[tuple]:
    """A batch of aligned random crops, `frames` frames long, of (waveform, per-frame tensors...) tuples;
    short clips are zero-padded."""
    F = torch.nn.functional
    crops = []
    for i in rng.choice(len(items), batch_size):
        audio, *per_frame = items[i]
        T = max(frames, -(-len(audio) // hop))
        audio = F.pad(audio, (0, T * hop - len(audio)))
        per_frame = [F.pad(x, (0, T - x.shape[-1])) for x in per_frame]
        o = int(rng.integers(0, T - frames + 1))
        crops.append((audio[o * hop: (o + frames) * hop], *[x[..., o: o + frames] for x in per_frame]))
    return [torch.stack(parts) for parts in zip(*crops)]


def train_codec(definitions: dict, steps: int = CODEC_STEPS, batch_size: int = 32, length: int = 4000,
                lr: float = 1e-3, seed: int = 0):
    """Stage 1. Random half-second windows of the training clips; loss = multi-resolution spectral + 0.1 L1
    waveform + commitment (EnCodec's weights for the first two), Adam with beta1 0.5, one-cycle schedule."""
    import numpy as np
    F = torch.nn.functional
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    clips = [torch.from_numpy(c["audio"]) for c in definitions["clips"]["train"]]
    model = definitions["Codec"](definitions["CodecConfig"](),
                                 decoder=lambda cfg: conv_decoder(cfg, definitions["ResidualUnit"]))
    replaced = count_replacements(model.quantizer, steps)
    spectral_loss = SpectralLoss(definitions["SAMPLE_RATE"])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.5, 0.9))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    start = time.monotonic()
    for step in range(steps):
        replaced.step = step
        windows = []
        for i in rng.choice(len(clips), batch_size):
            audio = F.pad(clips[i], (0, max(0, length - len(clips[i]))))
            offset = int(rng.integers(0, len(audio) - length + 1))
            windows.append(audio[offset: offset + length])
        x = torch.stack(windows)
        out, _, commitment = model(x)
        reconstruction = spectral_loss(out, x)
        loss = reconstruction + 0.1 * F.l1_loss(out, x) + commitment
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == steps - 1:
            recent = replaced.counts[max(0, step - 99): step + 1].float()
            share = [f"{100 * (r[r >= 0].mean().item() if (r >= 0).any() else 0) / model.cfg.codebook_size:.2f}"
                     for r in recent.T]
            print(f"codec step {step}: spectral {reconstruction.item():.3f}, % of codes replaced per step, by codebook "
                  f"{' '.join(share)} ({time.monotonic() - start:.0f} s)", flush=True)
    model.replacements = replaced.counts
    return model.eval()


def count_replacements(quantizer, steps: int):
    """Count, at every training step, the codes each codebook's dead-code rule replaces: a (steps,
    n_codebooks) int tensor, 0 in the warm-up, -1 where the quantizer dropout left that codebook out of the
    step. The count is taken inside the notebook's replace_dead_codes, so it sees the codes it replaces."""
    from types import SimpleNamespace
    counter = SimpleNamespace(step=0, counts=torch.full((steps, len(quantizer.layers)), -1, dtype=torch.int32))

    def counted(j, layer, update, replace):
        def ema_update(x, codes):            # every training forward: the codebook took part in this step
            counter.counts[counter.step, j] = 0
            return update(x, codes)

        def replace_dead_codes(x):
            counter.counts[counter.step, j] = int((layer.cluster_size < layer.dead_threshold).sum())
            return replace(x)
        return ema_update, replace_dead_codes

    for j, layer in enumerate(quantizer.layers):
        layer.ema_update, layer.replace_dead_codes = counted(j, layer, layer.ema_update, layer.replace_dead_codes)
    return counter


def pitch_targets(audio, hop: int, sample_rate: int = 8000):
    """(T,) f0 per codec frame by librosa.pyin, 0 where unvoiced."""
    import librosa
    import numpy as np
    f0, voiced, _ = librosa.pyin(audio.numpy(), fmin=50, fmax=400, sr=sample_rate, frame_length=1024, hop_length=hop)
    T = -(-len(audio) // hop)
    return torch.tensor(np.where(voiced, f0, 0.0)[:T], dtype=torch.float32)


def train_harmonic_decoder(definitions: dict, codec, steps: int = DECODER_STEPS, batch_size: int = 32,
                           frames: int = 25, lr: float = 1e-3, seed: int = 0):
    """Stage 2. A fresh harmonic decoder on the frozen encoder and codebooks (so the codes do not change):
    spectral loss plus the error of its f0 in octaves on voiced frames. The oscillator is driven by the
    pyin f0 where there is one (teacher forcing), so the spectral loss trains amplitudes and noise and
    the pitch loss alone trains f0. All codebooks half of the time, else fewer (as the quantizer dropout of
    stage 1), so that the decoder makes the most of every codebook."""
    import numpy as np
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    codec.decoder = definitions["HarmonicDecoder"](codec.cfg)
    codec.eval()
    hop, n_codebooks = codec.hop, codec.cfg.n_codebooks
    items = []
    for clip in definitions["clips"]["train"]:
        audio = torch.from_numpy(clip["audio"])
        items.append((audio, codec.encode(definitions["pad_to_frames"](audio))[0], pitch_targets(audio, hop)))
    spectral_loss = SpectralLoss(definitions["SAMPLE_RATE"])
    optimizer = torch.optim.Adam(codec.decoder.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    start = time.monotonic()
    for step in range(steps):
        x, codes, f0_target = random_crops(rng, items, batch_size, frames, hop)     # codes (B, 8, frames)
        n = n_codebooks if rng.random() < 0.5 else int(rng.integers(1, n_codebooks))
        with torch.no_grad():
            z = codec.frames(codes[:, :n])
        f0, amplitudes, noise = codec.decoder.controls(z)
        f0_target = f0_target.repeat_interleave(codec.cfg.control_rate, dim=1)   # frames -> control steps
        voiced = f0_target > 0
        out = codec.decoder.synthesise(torch.where(voiced, f0_target, f0.detach()), amplitudes, noise)
        reconstruction = spectral_loss(out, x)
        pitch = (torch.log2(f0[voiced]) - torch.log2(f0_target[voiced])).abs().mean()
        loss = reconstruction + pitch
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"decoder step {step}: spectral {reconstruction.item():.3f}, pitch error {pitch.item():.3f} octaves "
                  f"({time.monotonic() - start:.0f} s)", flush=True)
    return codec.eval()


def save_codec(codec, replacements: torch.Tensor) -> list[Path]:
    """replacements: stage 1's dead codes replaced per step and codebook (count_replacements)."""
    from dataclasses import asdict
    target = OUT / "valle_codec.pt"
    torch.save({"config": asdict(codec.cfg), "state_dict": codec.state_dict(),
                "steps": {"codec": CODEC_STEPS, "decoder": DECODER_STEPS}, "replacements": replacements}, target)
    return [target]


def build_valle_codec() -> list[Path]:
    """Both stages."""
    definitions = valle_definitions()
    codec = train_codec(definitions)
    replacements = codec.replacements
    return save_codec(train_harmonic_decoder(definitions, codec), replacements)


def build_valle_decoder() -> list[Path]:
    """Stage 2 only, on the shipped codec's encoder and codebooks (its codes, hence valle_ar and valle_nar,
    stay valid)."""
    definitions = valle_definitions()
    blob = torch.load(OUT / "valle_codec.pt", map_location="cpu", weights_only=True)
    codec = definitions["Codec"](definitions["CodecConfig"](**{**blob["config"], "strides": tuple(blob["config"]["strides"])}))
    for name in ["encoder", "quantizer"]:       # whatever decoder the file holds, it is retrained
        part = {k[len(name) + 1:]: v for k, v in blob["state_dict"].items() if k.startswith(name + ".")}
        getattr(codec, name).load_state_dict(part)
    return save_codec(train_harmonic_decoder(definitions, codec), blob["replacements"])


def joined_prompts(definitions: dict, rng, clips: int, per_speaker: int = 100) -> list[dict]:
    """Prompts of `clips` short training clips (at most 1.2 s each) of one speaker joined: three make
    about VALL-E's 3 s. One-clip prompts are the notebook's prompt pool, every clip once; the others
    are `per_speaker` random choices. Each keeps the indices of its clips: a target is never part of
    its own prompt."""
    coded, pool = definitions["coded"]["train"], definitions["prompt_pool"]
    prompts = []
    for speaker, indices in pool.items():
        for _ in range(1 if clips == 1 else per_speaker):
            for chosen in ([[i] for i in indices] if clips == 1 else [rng.choice(indices, clips, replace=False).tolist()]):
                prompts.append({"speaker": speaker, "clips": set(chosen),
                                "phonemes": [p for k, i in enumerate(chosen) for p in (["|"] if k else []) + coded[i]["phonemes"]],
                                "codes": torch.cat([coded[i]["codes"] for i in chosen], 1)})   # (8, frames)
    return prompts


def joined_prompt_pairs(definitions: dict, rng, prompt_clips: dict = AR_PROMPT_CLIPS, per_speaker: int = 100):
    """The notebook's train_pairs, with prompts of 1, 2 or 3 clips joined (prompt_clips: clips -> share
    of batches). One batch holds one kind, so that the short ones are not padded to the length of the
    long ones."""
    coded = definitions["coded"]["train"]
    kinds = {}
    for clips in prompt_clips:
        prompts = joined_prompts(definitions, rng, clips, per_speaker)
        by_speaker = {s: [k for k, p in enumerate(prompts) if p["speaker"] == s] for s in definitions["prompt_pool"]}
        kinds[clips] = prompts, by_speaker

    def pairs(rng, batch_size):
        prompts, by_speaker = kinds[int(rng.choice(list(prompt_clips), p=list(prompt_clips.values())))]
        return definitions["pair_batch"](coded, prompts, lambda i: [k for k in by_speaker[coded[i]["speaker"]]
                                                                    if i not in prompts[k]["clips"]], rng, batch_size)
    return pairs


def train_valle(definitions: dict, which: str, steps: int | None = None, batch_size: int = 32, lr: float = 1e-3,
                seed: int = 0, model=None, prompt_clips: dict = AR_PROMPT_CLIPS, per_speaker: int = 100):
    """The notebook's training pairs and losses (cells 'pairs'), longer, with AdamW and a one-cycle
    schedule. Given a `model`, it trains that one further (a fresh optimizer and schedule, reseeded, so
    that a stage run on a saved checkpoint is the stage run in the same process)."""
    import numpy as np
    steps = steps or VALLE_STEPS[which]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if model is None:
        model = definitions["ARModel" if which == "ar" else "NARModel"](definitions["VALLEConfig"]())
    model.train()
    cfg = model.cfg
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    train_pairs = (joined_prompt_pairs(definitions, rng, prompt_clips, per_speaker) if which == "ar"
                   else definitions["train_pairs"])
    start = time.monotonic()
    for step in range(steps):
        batch = train_pairs(rng, batch_size)
        if which == "ar":
            loss = definitions["ar_loss"](model, batch, corruption=AR_CORRUPTION)[0]
        else:
            loss = definitions["nar_loss"](model, batch, int(rng.integers(1, cfg.n_codebooks)))[0]
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"{which} step {step}: {loss.item():.3f} nats ({time.monotonic() - start:.0f} s)", flush=True)
    return model.eval()


def build_valle(which: str) -> list[Path]:
    from dataclasses import asdict
    definitions = valle_definitions(with_data=True, extra_phrases=True)
    model = train_valle(definitions, which)
    steps = VALLE_STEPS[which]
    if which == "ar":                       # stage 2: mostly 3-s prompts (AR_LATE)
        model = train_valle(definitions, which, model=model, **AR_LATE)
        steps += AR_LATE["steps"]
    target = OUT / f"valle_{which}.pt"
    torch.save({"config": asdict(model.cfg), "state_dict": model.state_dict(), "steps": steps,
                "phonemes": definitions["PHONEMES"],
                "speech_seconds": round(sum(len(c["audio"]) for c in definitions["clips"]["train"]) / 8000, 1)}, target)
    return [target]


def build_judges() -> list[Path]:
    from mmkit.data import spoken_clips
    from mmkit.speech import save_judges, train_recogniser, train_speaker_identifier
    clips = spoken_clips("train", 8000)
    target = OUT / "valle_judges.pt"
    save_judges(train_recogniser(clips), train_speaker_identifier(clips), target)
    return [target]


def update_manifest(paths: list[Path]) -> None:
    manifest_path = DATA / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    for path in paths:
        manifest[path.relative_to(DATA).as_posix()] = {
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size,
            "rebuild": "make checkpoints"}
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    from mmkit.data import _manifest
    _manifest.cache_clear()     # a later part of the same run loads these files against the new hashes


if __name__ == "__main__":
    builders = {"clip_vision": build_clip_vision, "lm": build_lm, "wavenet": build_wavenet, "vocoder": build_vocoder,
                "valle_codec": build_valle_codec, "valle_decoder": build_valle_decoder, "judges": build_judges,
                "valle_ar": lambda: build_valle("ar"), "valle_nar": lambda: build_valle("nar")}
    parts = sys.argv[1:] or list(builders)
    for part in parts:
        update_manifest(builders[part]())
