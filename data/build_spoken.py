"""Build the Spoken dataset: short Shapes phrases said by six synthetic voices (espeak-ng).

    python data/build_spoken.py        # needs espeak-ng (Debian: apt-get install espeak-ng)

Every clip is 16 kHz mono, trimmed of leading and trailing silence (a model trained on silence
learns silence), stored as FLAC bytes in parquet with its transcript, its phonemes (espeak-ng's
IPA, one token per phoneme, '|' between word groups), its speaker and its duration. Students never need
espeak-ng: the parquet files are shipped, and soundfile decodes them.

The six speakers differ in pitch (median 87 to 260 Hz, each about 1.2 times the one below) and in
timbre (different espeak-ng voice variants). Each speaker says most phrases; the test split holds
(speaker, phrase) pairs whose phrase that speaker never says in training, for speech generation
on held-out text and speaker pairs.

The unseen split holds what no model may train on: two held-out voices (espeak-ng variants and
pitches that no training speaker uses; u0 low, between s0 and s1, u1 high, between s4 and s5) and
held-out phrases (word combinations that occur in no other split). All eight voices say every
held-out phrase, so seen and unseen voices can be compared on the same text; the held-out voices
also say a few short known phrases, to be used as a prompt (about 3 seconds together).

The extra split holds every other phrase the templates can make (none of train, val, test or
unseen), each said by one training voice at 8 kHz: more text for the pretrained VALL-E models,
which read phonemes better when the training phrases are many. No notebook uses it, so it is not
stored (data/ keeps to its 60 MB): data/build_checkpoints.py synthesises it with `build_rows(
["extra"])` when it trains those models.

The builder is deterministic for a given espeak-ng version.
"""
from __future__ import annotations

import hashlib
import io
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
DATA_DIR = Path(__file__).resolve().parent
OUT_DIR = DATA_DIR / "spoken"
# espeak-ng voice variant, pitch (0-99) and speed (words per minute); all en-us so that one
# phoneme sequence per phrase fits every speaker
SPEAKERS = [
    {"speaker": "s0", "voice": "en-us+m3", "pitch": 28, "speed": 165},
    {"speaker": "s1", "voice": "en-us+m1", "pitch": 66, "speed": 175},
    {"speaker": "s2", "voice": "en-us+m7", "pitch": 75, "speed": 160},
    {"speaker": "s3", "voice": "en-us+f5", "pitch": 22, "speed": 170},
    {"speaker": "s4", "voice": "en-us+f2", "pitch": 50, "speed": 180},
    {"speaker": "s5", "voice": "en-us+f4", "pitch": 85, "speed": 165},
]
# voices that no model trains on (the unseen split): variants and pitches no training speaker uses
UNSEEN_SPEAKERS = [
    {"speaker": "u0", "voice": "en-us+m4", "pitch": 55, "speed": 170},
    {"speaker": "u1", "voice": "en-us+f3", "pitch": 60, "speed": 170},
]
COLOURS = ["red", "orange", "yellow", "green", "blue", "purple"]
SHAPES = ["circle", "square", "triangle", "diamond", "cross"]
WHERE = ["in the top left", "at the top", "in the top right", "on the left", "in the center",
         "on the right", "in the bottom left", "at the bottom", "in the bottom right"]
COUNTS = ["one shape", "two shapes", "three shapes"]
PHRASES_PER_SPEAKER = 110          # of the phrases below, each speaker says this many
TEST_PER_SPEAKER = 20              # phrases a speaker says only in the test split
VAL_PER_SPEAKER = 10
HELD_OUT_PHRASES = 10              # said by every voice, in the unseen split only
UNSEEN_PROMPT_PHRASES = 4          # known short phrases each held-out voice also says, for its prompt
EXTRA_SAMPLE_RATE = 8_000          # the extra split serves only the VALL-E models, which run at 8 kHz


def phrases(seed: int = 0) -> list[str]:
    """About 200 short phrases from the Shapes vocabulary, from five templates."""
    rng = random.Random(seed)
    out = {f"a {c} {s}" for c in COLOURS for s in SHAPES}
    out |= {f"the {rng.choice(COLOURS)} {rng.choice(SHAPES)} is {w}" for w in WHERE for _ in range(5)}
    out |= {f"{n}" for n in COUNTS}
    out |= {f"is there a {rng.choice(COLOURS)} {rng.choice(SHAPES)}" for _ in range(40)}
    out |= {f"a {rng.choice(['small', 'large'])} {rng.choice(COLOURS)} {rng.choice(SHAPES)} {rng.choice(WHERE)}"
            for _ in range(60)}
    return sorted(out)


def held_out_phrases(known: list[str], seed: int = 2) -> list[str]:
    """HELD_OUT_PHRASES phrases from the templates of `phrases` with a word combination that `known`
    does not hold: every word is in the vocabulary, the phrase is new."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < HELD_OUT_PHRASES:
        colour, shape, where = rng.choice(COLOURS), rng.choice(SHAPES), rng.choice(WHERE)
        phrase = rng.choice([f"the {colour} {shape} is {where}", f"is there a {colour} {shape}",
                             f"a {rng.choice(['small', 'large'])} {colour} {shape} {where}"])
        if phrase not in known and phrase not in out:
            out.append(phrase)
    return out


def template_phrases() -> list[str]:
    """Every phrase the templates of `phrases` can make."""
    out = {f"a {c} {s}" for c in COLOURS for s in SHAPES} | set(COUNTS)
    out |= {f"the {c} {s} is {w}" for c in COLOURS for s in SHAPES for w in WHERE}
    out |= {f"is there a {c} {s}" for c in COLOURS for s in SHAPES}
    out |= {f"a {z} {c} {s} {w}" for z in ["small", "large"] for c in COLOURS for s in SHAPES for w in WHERE}
    return sorted(out)


def espeak(text: str, speaker: dict) -> np.ndarray:
    """Say text with a speaker's voice; float32 samples at espeak-ng's 22,050 Hz."""
    import soundfile as sf
    wav = subprocess.run(["espeak-ng", "-v", speaker["voice"], "-p", str(speaker["pitch"]),
                          "-s", str(speaker["speed"]), "--stdout", text],
                         check=True, capture_output=True).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    assert rate == 22_050, rate
    return samples


def phonemes(text: str) -> str:
    """'a red circle' -> 'ɐ|ɹ ɛ d|s ɜː k əl': IPA phonemes separated by spaces, '|' between
    espeak-ng's word groups (it joins short words: 'in the'), stress marks dropped; the same for
    every speaker (one en-us pronunciation)."""
    ipa = subprocess.run(["espeak-ng", "-q", "--ipa", "--sep=_", "-v", "en-us", text],
                         check=True, capture_output=True, text=True).stdout
    words = [w.replace("ˈ", "").replace("ˌ", "").split("_") for w in ipa.split()]
    return "|".join(" ".join(p for p in word if p) for word in words)


def clip(text: str, speaker: dict, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """int16 samples at `sample_rate`, silence trimmed, peak-normalised to 0.9."""
    import librosa
    audio = librosa.resample(espeak(text, speaker), orig_sr=22_050, target_sr=sample_rate)
    audio, _ = librosa.effects.trim(audio, top_db=40)
    audio = 0.9 * audio / max(1e-6, float(np.abs(audio).max()))
    return np.round(audio * 32767).astype(np.int16)


def flac_bytes(samples: np.ndarray) -> bytes:
    import soundfile as sf
    buffer = io.BytesIO()
    sf.write(buffer, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()


def assignments(all_phrases: list[str], seed: int = 1) -> list[tuple[str, str, str]]:
    """(split, speaker, phrase) rows: each speaker says PHRASES_PER_SPEAKER phrases, of which
    TEST_PER_SPEAKER only in test and VAL_PER_SPEAKER only in val. Every test phrase is said in
    train by another speaker, so a model can learn the phrase, only not in that voice."""
    rng = random.Random(seed)
    chosen = {s["speaker"]: rng.sample(all_phrases, PHRASES_PER_SPEAKER) for s in SPEAKERS}
    held = TEST_PER_SPEAKER + VAL_PER_SPEAKER
    train = {speaker: set(phrases[held:]) for speaker, phrases in chosen.items()}
    rows = []
    for speaker, phrases in chosen.items():
        others = sorted(set().union(*(t for s, t in train.items() if s != speaker)) - set(phrases))
        for i, phrase in enumerate(phrases):
            if i < TEST_PER_SPEAKER and not any(phrase in t for s, t in train.items() if s != speaker):
                phrase = others.pop(rng.randrange(len(others)))      # one another voice says in train
            split = "test" if i < TEST_PER_SPEAKER else "val" if i < held else "train"
            rows.append((split, speaker, phrase))
    return rows


def unseen_assignments(all_phrases: list[str], seed: int = 3) -> list[tuple[str, str, str]]:
    """("unseen", speaker, phrase) rows: every voice, seen or held out, says every held-out phrase;
    each held-out voice also says UNSEEN_PROMPT_PHRASES short known phrases ('a red circle')."""
    rng = random.Random(seed)
    held_out = held_out_phrases(all_phrases)
    short = [p for p in all_phrases if len(p.split()) == 3 and p.startswith("a ")]
    rows = [("unseen", s["speaker"], phrase) for s in SPEAKERS + UNSEEN_SPEAKERS for phrase in held_out]
    for s in UNSEEN_SPEAKERS:
        rows += [("unseen", s["speaker"], phrase) for phrase in rng.sample(short, UNSEEN_PROMPT_PHRASES)]
    return rows


def extra_assignments(all_phrases: list[str], seed: int = 4) -> list[tuple[str, str, str]]:
    """("extra", speaker, phrase) rows: every template phrase that neither `all_phrases` nor the
    held-out phrases hold, each said by one training voice, the voices taking turns in a random order."""
    rng = random.Random(seed)
    taken = set(all_phrases) | set(held_out_phrases(all_phrases))
    new = [p for p in template_phrases() if p not in taken]
    rng.shuffle(new)
    return [("extra", SPEAKERS[i % len(SPEAKERS)]["speaker"], phrase) for i, phrase in enumerate(new)]


STORED_SPLITS = ["train", "val", "test", "unseen"]     # written to data/spoken; "extra" is built on demand


def build_rows(splits: list[str] = STORED_SPLITS) -> dict[str, list[dict]]:
    all_phrases = phrases()
    speakers = {s["speaker"]: s for s in SPEAKERS + UNSEEN_SPEAKERS}
    rows = assignments(all_phrases) + unseen_assignments(all_phrases) + extra_assignments(all_phrases)
    rows = [row for row in rows if row[0] in splits]
    out: dict[str, list[dict]] = {split: [] for split in splits}
    ipa = {p: phonemes(p) for p in sorted({phrase for _, _, phrase in rows})}
    for split, speaker, phrase in rows:
        rate = EXTRA_SAMPLE_RATE if split == "extra" else SAMPLE_RATE
        samples = clip(phrase, speakers[speaker], rate)
        out[split].append({"id": f"{speaker}-{len(out[split]):04d}-{split}", "speaker": speaker,
                           "text": phrase, "phonemes": ipa[phrase], "samples": samples,
                           "duration": round(len(samples) / rate, 3)})
    return out


def content_sha256(rows: list[dict]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(row["samples"].tobytes())
        h.update(json.dumps({k: v for k, v in row.items() if k != "samples"}, sort_keys=True).encode())
    return h.hexdigest()


def write_parquet(rows: list[dict], path: Path) -> None:
    import datasets
    features = datasets.Features({
        "id": datasets.Value("string"), "speaker": datasets.Value("string"), "text": datasets.Value("string"),
        "phonemes": datasets.Value("string"), "flac": datasets.Value("binary"),
        "sample_rate": datasets.Value("int32"), "duration": datasets.Value("float32")})
    table = {"id": [r["id"] for r in rows], "speaker": [r["speaker"] for r in rows],
             "text": [r["text"] for r in rows], "phonemes": [r["phonemes"] for r in rows],
             "flac": [flac_bytes(r["samples"]) for r in rows], "sample_rate": [SAMPLE_RATE] * len(rows),
             "duration": [r["duration"] for r in rows]}
    datasets.Dataset.from_dict(table, features=features).to_parquet(str(path))


def build(out_dir: Path = OUT_DIR) -> dict:
    if shutil.which("espeak-ng") is None:
        raise SystemExit("build_spoken: espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = {}
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.split()[3]
    for name, rows in build_rows().items():
        path = out_dir / f"{name}.parquet"
        write_parquet(rows, path)
        entries[f"spoken/{name}.parquet"] = {
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "rows": len(rows),
            "content_sha256": content_sha256(rows), "espeak_ng": version, "rebuild": "make data"}
        print(f"{path}: {len(rows)} clips, {sum(r['duration'] for r in rows) / 60:.1f} min, "
              f"{path.stat().st_size / 1e6:.2f} MB")
    return entries


if __name__ == "__main__":
    sys.path.insert(0, str(DATA_DIR))
    from build_shapes import update_manifest
    update_manifest(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR))
