"""The Shapes dataset: its manifest, its invariants, its rebuild, and clear errors when damaged."""
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from mmkit import data
from tests.conftest import data_builder

ROOT = Path(__file__).resolve().parents[1]


build_shapes, build_spoken = data_builder("build_shapes"), data_builder("build_spoken")


@pytest.fixture(scope="module")
def train():
    return data.load_shapes("train")


def test_every_manifest_entry_verifies():
    manifest = json.loads((ROOT / "data" / "MANIFEST.json").read_text())
    assert manifest, "the manifest is empty"
    for relative in manifest:
        assert data.data_file(relative).is_file()


def test_splits_load_with_datasets(train):
    assert len(train) == 10_000
    assert set(train.column_names) == {"image", "captions", "objects", "n_objects", "held_out"}
    assert train[0]["image"].size == (48, 48)
    tensor = data.images_to_tensor(train.select(range(4)))
    assert tensor.shape == (4, 3, 48, 48) and str(tensor.dtype) == "torch.uint8"


def test_held_out_pairs_never_in_training(train):
    pairs = Counter((o["colour"], o["shape"]) for objects in train["objects"] for o in objects)
    for pair in build_shapes.HELD_OUT:
        assert pairs[pair] == 0, f"{pair} is held out but occurs in train"
    colours = {c for c, _ in pairs}
    shapes = {s for _, s in pairs}
    assert colours == set(build_shapes.COLOURS) and shapes == set(build_shapes.SHAPES)
    zeroshot = data.load_shapes("zeroshot")
    held = {(o[0]["colour"], o[0]["shape"]) for o, h in zip(zeroshot["objects"], zeroshot["held_out"]) if h}
    assert held == set(build_shapes.HELD_OUT)


def test_objects_boxes_and_captions_agree(train):
    for row in train.select(range(500)):
        objects = row["objects"]
        assert 1 <= len(objects) == row["n_objects"] <= 3
        assert len(row["captions"]) >= 3 and len(set(row["captions"])) >= 3
        for o in objects:
            x0, y0, x1, y1 = o["box"]
            assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48
            assert x1 - x0 == build_shapes.SIZES[o["size"]]
            row_, col = divmod(build_shapes.POSITIONS.index(o["position"]), 3)
            assert (x0 + x1) // 2 // 16 == col and (y0 + y1) // 2 // 16 == row_, "box outside its cell"
            for caption in row["captions"]:
                assert o["colour"] in caption and o["shape"] in caption


def test_offgrid_objects_straddle_patches_but_keep_their_cells():
    offgrid = data.load_shapes("offgrid")
    boxes, straddling = 0, 0
    for objects in offgrid["objects"]:
        for i, o in enumerate(objects):
            x0, y0, x1, y1 = o["box"]
            assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48 and x1 - x0 == build_shapes.SIZES[o["size"]]
            row_, col = divmod(build_shapes.POSITIONS.index(o["position"]), 3)
            assert (x0 + x1) / 2 // 16 == col and (y0 + y1) / 2 // 16 == row_, "centre outside its cell"
            for other in objects[i + 1:]:
                a0, b0, a1, b1 = other["box"]
                assert x1 < a0 or a1 < x0 or y1 < b0 or b1 < y0, "two objects touch"
            boxes += 1
            straddling += x0 // 16 != (x1 - 1) // 16 or y0 // 16 != (y1 - 1) // 16
    assert straddling / boxes > 0.5, "most off-grid objects should cover more than one patch"


def test_rebuild_matches_manifest(tmp_path):
    manifest = json.loads((ROOT / "data" / "MANIFEST.json").read_text())
    entries = build_shapes.build(tmp_path)
    for relative, entry in entries.items():
        assert entry["content_sha256"] == manifest[relative]["content_sha256"], f"{relative} rebuilds differently"


def copy_data(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(ROOT / "data", folder)
    monkeypatch.setenv("MMKIT_DATA", str(folder))
    data._verified.cache_clear()
    data._manifest.cache_clear()
    return folder


def test_missing_file_names_it_and_the_rebuild_command(tmp_path, monkeypatch):
    folder = copy_data(tmp_path, monkeypatch)
    (folder / "shapes" / "val.parquet").unlink()
    with pytest.raises(data.DataError) as info:
        data.load_shapes("val")
    assert "data/shapes/val.parquet is missing" in str(info.value) and "make data" in str(info.value)


def test_corrupted_file_names_it_and_the_rebuild_command(tmp_path, monkeypatch):
    folder = copy_data(tmp_path, monkeypatch)
    path = folder / "shapes" / "test.parquet"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(data.DataError) as info:
        data.load_shapes("test")
    assert "data/shapes/test.parquet is damaged" in str(info.value) and "make data" in str(info.value)


def test_unknown_split_is_explained(tmp_path, monkeypatch):
    copy_data(tmp_path, monkeypatch)
    with pytest.raises(data.DataError, match="not listed"):
        data.load_shapes("tarin")


def test_spoken_splits_voices_and_held_out_pairs():
    import numpy as np
    train, test = data.load_spoken("train"), data.load_spoken("test")
    assert set(train.column_names) >= {"id", "speaker", "text", "phonemes", "flac", "sample_rate", "duration"}
    assert set(train["speaker"]) == {f"s{i}" for i in range(6)}
    audio = data.decode_audio(train[0]["flac"])
    assert audio.dtype == np.float32 and abs(len(audio) / 16000 - train[0]["duration"]) < 1e-3
    assert 0.5 < np.abs(audio).max() <= 1.0
    said = {(s, t) for s, t in zip(train["speaker"], train["text"])}
    for speaker, text in zip(test["speaker"], test["text"]):
        assert (speaker, text) not in said, "a test pair is in train"
        assert any(t == text for s, t in said if s != speaker), "a test phrase no other voice says in train"
    for text, phonemes in zip(train["text"], train["phonemes"]):
        groups = phonemes.split("|")       # espeak-ng joins short function words ('in the')
        assert 1 <= len(groups) <= len(text.split()) and all(g.strip() for g in groups), (text, phonemes)


def test_spoken_unseen_split_holds_new_voices_and_new_phrases():
    known = {split: data.load_spoken(split) for split in ["train", "val", "test"]}
    unseen = data.load_spoken("unseen")
    known_texts = {t for d in known.values() for t in d["text"]}
    known_voices = {s for d in known.values() for s in d["speaker"]}
    assert known_voices == {f"s{i}" for i in range(6)}
    new_voices = set(unseen["speaker"]) - known_voices
    assert len(new_voices) >= 2, "fewer than two held-out voices"
    held_out = set(unseen["text"]) - known_texts
    assert len(held_out) >= 8, "fewer than eight held-out phrases"
    said = set(zip(unseen["speaker"], unseen["text"]))
    for voice in set(unseen["speaker"]):       # every voice, seen or not, says every held-out phrase
        assert {(voice, t) for t in held_out} <= said, voice
    for voice in new_voices:                   # and a held-out voice has known phrases for its prompt
        prompt = [d for s, t, d in zip(unseen["speaker"], unseen["text"], unseen["duration"])
                  if s == voice and t in known_texts]
        assert sum(prompt) >= 3.0, f"{voice} has {sum(prompt):.1f} s of prompt material"


def test_spoken_extra_split_adds_only_new_phrases_of_training_voices():
    extra = build_spoken.extra_assignments(build_spoken.phrases())
    assert {split for split, _, _ in extra} == {"extra"}
    assert {speaker for _, speaker, _ in extra} == {f"s{i}" for i in range(6)}
    texts = [phrase for _, _, phrase in extra]
    assert len(set(texts)) == len(texts) >= 500, "each extra phrase is said once"
    for split in ["train", "val", "test", "unseen"]:
        assert not set(texts) & set(data.load_spoken(split)["text"]), f"an extra phrase is also in {split}"
    assert not (ROOT / "data" / "spoken" / "extra.parquet").exists(), "the extra split is built, not stored"


def test_spoken_voices_differ_in_pitch():
    import librosa
    import numpy as np
    rows_of = {}
    for split in ["train", "unseen"]:          # the held-out voices must be voices of their own too
        for row in data.load_spoken(split):
            rows_of.setdefault(row["speaker"], []).append(row)
    medians = {}
    for speaker, rows in sorted(rows_of.items()):
        rows = rows[:3]
        f0 = np.concatenate([librosa.pyin(data.decode_audio(r["flac"]), fmin=50, fmax=400, sr=16000)[0] for r in rows])
        medians[speaker] = float(np.nanmedian(f0))
    trained = sorted(m for s, m in medians.items() if s.startswith("s"))
    ratios = [b / a for a, b in zip(trained, trained[1:])]
    assert min(ratios) > 1.1, f"two voices are within 10% in pitch: {medians}"
    for speaker in [s for s in medians if s.startswith("u")]:     # a voice of its own, not a copy
        nearest = min(abs(np.log(medians[speaker] / m)) for m in trained)
        assert nearest > np.log(1.08), f"{speaker} is within 8% of a training voice's pitch: {medians}"


def test_spoken_rebuild_matches_manifest(tmp_path):
    import shutil as sh
    if sh.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (Debian: apt-get install espeak-ng); .ci/run installs it")
    manifest = json.loads((ROOT / "data" / "MANIFEST.json").read_text())
    import subprocess
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.split()[3]
    if version != manifest["spoken/train.parquet"]["espeak_ng"]:
        pytest.skip(f"espeak-ng {version} here, the data was built with {manifest['spoken/train.parquet']['espeak_ng']}")
    for relative, entry in build_spoken.build(tmp_path).items():
        assert entry["content_sha256"] == manifest[relative]["content_sha256"], f"{relative} rebuilds differently"


def test_spoken_clips_resample_trim_and_index_speakers():
    import numpy as np
    rows, clips = data.load_spoken("val"), data.spoken_clips("val", sample_rate=8000)
    assert len(clips) == len(rows) and {c["speaker"] for c in clips} == set(range(6))
    for clip, row in zip(clips, rows):
        assert clip["audio"].dtype == np.float32 and clip["text"] == row["text"]
        assert clip["phonemes"] == data.phoneme_tokens(row["phonemes"])
        assert data.SPOKEN_SPEAKERS[clip["speaker"]] == row["speaker"]
        # 8 kHz: half the samples, a little less where silence was trimmed
        assert 0.5 * row["duration"] * 8000 < len(clip["audio"]) <= row["duration"] * 8000 + 1
