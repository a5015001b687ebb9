"""Local datasets: find data/, verify each file against the manifest, load with `datasets`.

Nothing here downloads: every file lives in the kit's data/ folder, listed with its sha256 in
data/MANIFEST.json together with the command that rebuilds it.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

__all__ = ["DataError", "data_dir", "data_file", "load_shapes", "images_to_tensor", "load_spoken", "decode_audio",
           "spoken_clips", "SPOKEN_SPEAKERS", "random_windows", "phoneme_tokens"]


class DataError(FileNotFoundError):
    """A data file is missing or damaged; the message says which and how to rebuild it."""


def data_dir() -> Path:
    """The kit's data/ folder: $MMKIT_DATA, else the nearest data/MANIFEST.json above the
    working directory, else the one beside this package's source tree."""
    if os.environ.get("MMKIT_DATA"):
        return Path(os.environ["MMKIT_DATA"])
    here = Path.cwd().resolve()
    for folder in [here, *here.parents]:
        if (folder / "data" / "MANIFEST.json").is_file():
            return folder / "data"
    return Path(__file__).resolve().parents[2] / "data"


@lru_cache(maxsize=None)
def _manifest(folder: Path) -> dict:
    path = folder / "MANIFEST.json"
    if not path.is_file():
        raise DataError(f"{path} is missing: the kit's data folder was not found. Run notebooks "
                        "from inside the kit, or set MMKIT_DATA to the kit's data/ folder.")
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def _verified(path: Path, sha256: str) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise ValueError(digest)


def data_file(relative: str) -> Path:
    """Path of data/<relative>, after checking that it exists and matches the manifest."""
    folder = data_dir()
    entry = _manifest(folder).get(relative)
    path = folder / relative
    if entry is None:
        raise DataError(f"data/{relative} is not listed in {folder / 'MANIFEST.json'}; "
                        "check the name, or rebuild the data with `make data`.")
    rebuild = entry.get("rebuild", "make data")
    restore = f"Restore it with `git checkout -- data/{relative}` or rebuild it with `{rebuild}` in the kit's root."
    if not path.is_file():
        raise DataError(f"data/{relative} is missing ({path}). {restore}")
    try:
        _verified(path, entry["sha256"])
    except ValueError:
        raise DataError(f"data/{relative} is damaged: its sha256 does not match data/MANIFEST.json. "
                        f"{restore}") from None
    return path


def _load_parquet(relative: str):
    import datasets
    path = data_file(relative)
    datasets.disable_progress_bars()
    cache = Path(tempfile.gettempdir()) / "mmkit-datasets-cache"
    return datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(cache))


def load_shapes(split: str):
    """The Shapes dataset split ('train', 'val', 'test', 'offgrid' or 'zeroshot') as a datasets.Dataset.

    Columns: image (PIL), captions (list of str), objects (list of {shape, colour, size,
    position, box}), n_objects, held_out (whether an object is a combination never in train).
    """
    return _load_parquet(f"shapes/{split}.parquet")


def load_spoken(split: str):
    """The Spoken dataset split ('train', 'val', 'test' or 'unseen') as a datasets.Dataset.

    'unseen' is for evaluation only: held-out phrases said by every voice, and two held-out voices
    ('u0', 'u1') that no other split has.
    Columns: id, speaker ('s0'..'s5'; 'u0', 'u1' in unseen), text, phonemes (IPA, space-separated, '|' between word groups),
    flac (bytes: decode with decode_audio), sample_rate (16000), duration (seconds).
    """
    return _load_parquet(f"spoken/{split}.parquet")


def decode_audio(flac: bytes) -> np.ndarray:
    """FLAC bytes -> float32 samples in [-1, 1] (mono). soundfile decodes; no FFmpeg needed."""
    import io

    import soundfile as sf
    samples, _ = sf.read(io.BytesIO(flac), dtype="float32")
    return samples


SPOKEN_SPEAKERS = [f"s{i}" for i in range(6)] + ["u0", "u1"]     # the training voices, then the held-out ones


def spoken_clips(split: str, sample_rate: int = 16000, trim_db: float = 40) -> list[dict]:
    """The Spoken split as waveforms ready for a model: a list of {'audio': float32 array at
    `sample_rate`, 'speaker': index into SPOKEN_SPEAKERS (0..5 the training voices, 6 and 7 the
    held-out voices of the unseen split), 'text': str, 'phonemes': list of str (with '|' between
    word groups)}, leading and trailing silence trimmed (silence teaches a sample-level model to
    stay silent)."""
    import librosa
    clips = []
    for row in load_spoken(split):
        audio = decode_audio(row["flac"])
        if sample_rate != row["sample_rate"]:
            audio = librosa.resample(audio, orig_sr=row["sample_rate"], target_sr=sample_rate)
        audio, _ = librosa.effects.trim(audio, top_db=trim_db)
        clips.append({"audio": audio.astype(np.float32), "speaker": SPOKEN_SPEAKERS.index(row["speaker"]),
                      "text": row["text"], "phonemes": phoneme_tokens(row["phonemes"])})
    return clips


def phoneme_tokens(phonemes: str) -> list[str]:
    """'ɐ|b l uː' -> ['ɐ', '|', 'b', 'l', 'uː']: the dataset's phoneme string as tokens, '|' between
    word groups."""
    tokens = []
    for i, word in enumerate(phonemes.split("|")):
        tokens += (["|"] if i else []) + word.split()
    return tokens


def random_windows(data, batch_size: int, length: int, rng, hop: int = 1):
    """A training batch for a sample-level audio model: from `data`, a list of (levels (T,),
    speaker) or (levels, speaker, mel (n_mels, frames)), random windows of `length` levels
    starting on a multiple of `hop`, their speakers, and their mel frames (None without mels).
    Short clips are padded with silence (mu-law level 128), their mel with its floor log(1e-5).
    Returns (B, length) levels, (B,) speakers, (B, n_mels, length // hop) mels or None."""
    windows, speakers, mels = [], [], []
    for i in rng.choice(len(data), size=batch_size):
        levels, speaker, *rest = data[i]
        mel = rest[0] if rest else None
        if len(levels) < length:
            levels = torch.nn.functional.pad(levels, (0, length - len(levels)), value=128)
        frame = int(rng.integers(0, (len(levels) - length) // hop + 1))
        windows.append(levels[frame * hop: frame * hop + length])
        speakers.append(speaker)
        if mel is not None:
            frames = length // hop
            mel = torch.nn.functional.pad(mel, (0, max(0, frame + frames - mel.shape[1])), value=float(np.log(1e-5)))
            mels.append(mel[:, frame: frame + frames])
    return torch.stack(windows), torch.tensor(speakers), torch.stack(mels) if mels else None


def images_to_tensor(dataset) -> torch.Tensor:
    """All images of a dataset as one uint8 tensor (N, 3, H, W)."""
    import io

    from PIL import Image
    # decode the stored PNG bytes directly: datasets' Image feature would build a PIL image per row first
    encoded = dataset.with_format("arrow")["image"].combine_chunks().field("bytes").to_pylist()
    pixels = np.stack([np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for png in encoded])  # (N, H, W, 3)
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
