"""An independent judge of generated speech: a small CTC phoneme recogniser trained only on real
Spoken recordings, and the phrase its transcript is closest to.

The VALL-E notebook asks "can the words be understood?" of speech that a model made. A judge that
shares nothing with that model (not the codec, not the tokens) answers it: this recogniser reads
log-mel spectrograms, is trained with CTC (Graves et al., 2006) on the real training clips only,
and its phoneme transcript is matched to the nearest phrase of the Spoken vocabulary by edit
distance. Its accuracy on real held-out speech is the ceiling that generated speech is compared
with. Rebuild its checkpoint with `python data/build_checkpoints.py recogniser`.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["RecogniserConfig", "PhonemeRecogniser", "recogniser_features", "train_recogniser",
           "save_judges", "load_judges", "edit_distance", "phoneme_error_rate", "nearest_phrase", "SpeakerIdentifier", "train_speaker_identifier"]


@dataclass
class RecogniserConfig:
    phonemes: tuple = ()         # the vocabulary; CTC's blank is index 0, phoneme i is i + 1
    sample_rate: int = 8000
    n_mels: int = 64
    hop: int = 128
    hidden: int = 128


def recogniser_features(audio: np.ndarray, cfg: RecogniserConfig) -> torch.Tensor:
    """Waveform -> (frames, n_mels) log-mel, normalised per utterance (so loudness and a codec's
    spectral tilt matter less)."""
    import librosa
    mel = librosa.feature.melspectrogram(y=np.asarray(audio, dtype=np.float32), sr=cfg.sample_rate, n_fft=4 * cfg.hop,
                                         hop_length=cfg.hop, n_mels=cfg.n_mels)
    log_mel = np.log(mel + 1e-5).T
    return torch.from_numpy((log_mel - log_mel.mean(0)) / (log_mel.std(0) + 1e-5)).float()


class PhonemeRecogniser(nn.Module):
    """log-mel (B, T, n_mels) -> CTC log-probabilities (B, T, 1 + phonemes): a convolution for local
    context, then a two-layer bidirectional GRU."""

    def __init__(self, cfg: RecogniserConfig):
        super().__init__()
        self.cfg = cfg
        self.conv = nn.Conv1d(cfg.n_mels, cfg.hidden, 5, padding=2)
        self.rnn = nn.GRU(cfg.hidden, cfg.hidden, num_layers=2, bidirectional=True, batch_first=True, dropout=0.1)
        self.head = nn.Linear(2 * cfg.hidden, len(cfg.phonemes) + 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.conv(features.transpose(1, 2))).transpose(1, 2)
        h, _ = self.rnn(h)
        return self.head(h).log_softmax(-1)

    @torch.no_grad()
    def transcribe(self, audio: np.ndarray) -> list[str]:
        """Greedy CTC decoding: best class per frame, repeats merged, blanks dropped."""
        self.eval()
        best = self(recogniser_features(audio, self.cfg)[None])[0].argmax(-1).tolist()
        merged = [b for i, b in enumerate(best) if b != 0 and (i == 0 or b != best[i - 1])]
        return [self.cfg.phonemes[b - 1] for b in merged]


class SpeakerIdentifier(nn.Module):
    """log-mel (B, T, n_mels) -> (B, speakers) logits: who is speaking, from the timbre of the whole
    clip (the recogniser's convolution and GRU, averaged over time). VALL-E's paper judges voices
    with a speaker-verification model; this is its small counterpart, trained on real clips only."""

    def __init__(self, cfg: RecogniserConfig, speakers: int = 6):
        super().__init__()
        self.cfg = cfg
        self.conv = nn.Conv1d(cfg.n_mels, cfg.hidden, 5, padding=2)
        self.rnn = nn.GRU(cfg.hidden, cfg.hidden, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * cfg.hidden, speakers)

    def pooled(self, features: torch.Tensor) -> torch.Tensor:      # (B, T, n_mels) -> (B, 2 * hidden)
        h, _ = self.rnn(F.gelu(self.conv(features.transpose(1, 2))).transpose(1, 2))
        return h.mean(1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(features))

    @torch.no_grad()
    def identify(self, audio: np.ndarray) -> int:
        """Which of the training speakers (closed set)."""
        self.eval()
        return int(self(recogniser_features(audio, self.cfg)[None]).argmax(-1))

    @torch.no_grad()
    def embed(self, audio: np.ndarray) -> torch.Tensor:
        """The clip's voice as a unit vector (2 * hidden,): the time-averaged state that the classifier
        reads, a d-vector (Variani et al., 2014). Unlike `identify` it also describes voices the
        identifier never heard, so that any two voices can be compared by cosine similarity."""
        self.eval()
        return F.normalize(self.pooled(recogniser_features(audio, self.cfg)[None])[0], dim=0)


def train_speaker_identifier(clips: list[dict], steps: int = 300, batch_size: int = 32, lr: float = 2e-3,
                             seed: int = 0, log=print) -> SpeakerIdentifier:
    """Train on clips [{'audio', 'speaker'}] (real recordings only), on random 0.5-second crops."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = RecogniserConfig()
    data = [(recogniser_features(c["audio"], cfg), c["speaker"]) for c in clips]
    model = SpeakerIdentifier(cfg, speakers=1 + max(s for _, s in data))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    crop = 32                                                          # frames: half a second
    start = time.monotonic()
    for step in range(steps):
        batch = [data[i] for i in rng.choice(len(data), batch_size)]
        crops = []
        for features, _ in batch:
            offset = int(rng.integers(0, max(1, len(features) - crop)))
            crops.append(_augment(features[offset: offset + crop], rng))
        logits = model(nn.utils.rnn.pad_sequence(crops, batch_first=True))
        loss = F.cross_entropy(logits, torch.tensor([s for _, s in batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"speaker identifier step {step}: {loss.item():.3f} ({time.monotonic() - start:.0f} s)")
    return model.eval()


def _augment(features: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """SpecAugment-style masks: one band of mels and one stretch of frames set to zero."""
    features = features.clone()
    f = int(rng.integers(0, 8))
    f0 = int(rng.integers(0, features.shape[1] - f))
    features[:, f0:f0 + f] = 0
    t = int(rng.integers(0, max(1, features.shape[0] // 8)))
    t0 = int(rng.integers(0, max(1, features.shape[0] - t)))
    features[t0:t0 + t] = 0
    return features


def train_recogniser(clips: list[dict], steps: int = 400, batch_size: int = 32, lr: float = 2e-3,
                     seed: int = 0, log=print) -> PhonemeRecogniser:
    """Train on clips [{'audio', 'phonemes'}] (real recordings only; '|' word marks are not heard
    and are dropped)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    phonemes = tuple(sorted({p for c in clips for p in c["phonemes"] if p != "|"}))
    cfg = RecogniserConfig(phonemes=phonemes)
    index = {p: i + 1 for i, p in enumerate(phonemes)}
    data = [(recogniser_features(c["audio"], cfg), torch.tensor([index[p] for p in c["phonemes"] if p != "|"]))
            for c in clips]
    model = PhonemeRecogniser(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    start = time.monotonic()
    for step in range(steps):
        batch = [data[i] for i in rng.choice(len(data), batch_size)]
        features = nn.utils.rnn.pad_sequence([_augment(f, rng) for f, _ in batch], batch_first=True)
        targets = torch.cat([t for _, t in batch])
        log_probs = model(features).transpose(0, 1)                     # (T, B, C) for ctc_loss
        loss = F.ctc_loss(log_probs, targets, torch.tensor([len(f) for f, _ in batch]),
                          torch.tensor([len(t) for _, t in batch]), zero_infinity=True)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if step % 250 == 0 or step == steps - 1:
            log(f"recogniser step {step}: CTC loss {loss.item():.3f} ({time.monotonic() - start:.0f} s)")
    return model.eval()


def save_judges(recogniser: PhonemeRecogniser, identifier: SpeakerIdentifier, path) -> None:
    torch.save({"config": asdict(recogniser.cfg), "recogniser": recogniser.state_dict(),
                "speakers": identifier.head.out_features, "identifier": identifier.state_dict()}, path)


def load_judges(path) -> tuple[PhonemeRecogniser, SpeakerIdentifier]:
    """The recogniser and the speaker identifier saved by save_judges (one checkpoint)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    cfg = RecogniserConfig(**{**blob["config"], "phonemes": tuple(blob["config"]["phonemes"])})
    recogniser, identifier = PhonemeRecogniser(cfg), SpeakerIdentifier(cfg, blob["speakers"])
    recogniser.load_state_dict(blob["recogniser"])
    identifier.load_state_dict(blob["identifier"])
    return recogniser.eval(), identifier.eval()


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance between two token lists (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def phoneme_error_rate(heard: list[str], said: list[str]) -> float:
    """Edits (substitutions, insertions, deletions) from what was said to what was heard, per phoneme
    said; the '|' word-group marks are not heard and are ignored."""
    said = [p for p in said if p != "|"]
    return edit_distance([p for p in heard if p != "|"], said) / max(1, len(said))


def nearest_phrase(transcript: list[str], phrases: dict[str, list[str]]) -> str:
    """The phrase (text -> phonemes) whose phonemes are fewest edits from the transcript."""
    return min(phrases, key=lambda text: (edit_distance(transcript, [p for p in phrases[text] if p != "|"]), text))
