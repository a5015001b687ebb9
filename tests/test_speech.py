"""mmkit.speech: the independent recogniser that judges generated speech in the VALL-E notebook."""
import numpy as np
import pytest
import torch

from mmkit import speech
from mmkit.data import data_file, phoneme_tokens, spoken_clips


def test_edit_distance():
    assert speech.edit_distance([], []) == 0
    assert speech.edit_distance(["a", "b"], []) == 2
    assert speech.edit_distance(list("kitten"), list("sitting")) == 3
    assert speech.edit_distance(["s", "ɜː"], ["s", "ɜː"]) == 0


def test_nearest_phrase_ignores_word_marks_and_breaks_ties_by_text():
    phrases = {"a red circle": phoneme_tokens("ɐ|ɹ ɛ d|s ɜː k əl"), "a red cross": phoneme_tokens("ɐ|ɹ ɛ d|k ɹ ɔ s")}
    assert speech.nearest_phrase(["ɐ", "ɹ", "ɛ", "d", "s", "ɜː", "k"], phrases) == "a red circle"
    assert speech.nearest_phrase(["k", "ɹ", "ɔ", "s"], phrases) == "a red cross"
    assert speech.nearest_phrase([], phrases) == "a red circle"      # equally far: the first in order


def test_phoneme_error_rate_counts_edits_per_phoneme_said():
    said = ["ɐ", "|", "ɹ", "ɛ", "d"]
    assert speech.phoneme_error_rate(["ɐ", "ɹ", "ɛ", "d"], said) == 0.0          # marks are not heard
    assert speech.phoneme_error_rate(["ɐ", "ɹ", "d"], said) == 0.25              # one deletion
    assert speech.phoneme_error_rate(["ɐ", "ɹ", "ɛ", "d", "d", "d"], said) == 0.5  # two insertions
    assert speech.phoneme_error_rate([], said) == 1.0


def test_phoneme_tokens_keep_word_marks():
    assert phoneme_tokens("ɐ|b l uː|s k w ɛɹ") == ["ɐ", "|", "b", "l", "uː", "|", "s", "k", "w", "ɛɹ"]


def test_recogniser_training_runs_and_transcribes():
    clips = [c for c in spoken_clips("val", 8000)][:8]
    model = speech.train_recogniser(clips, steps=2, batch_size=4, log=lambda *_: None)
    transcript = model.transcribe(clips[0]["audio"])
    assert isinstance(transcript, list) and all(p in model.cfg.phonemes for p in transcript)


def test_speaker_identifier_training_runs():
    clips = [c for c in spoken_clips("val", 8000)][:8]
    model = speech.train_speaker_identifier(clips, steps=2, batch_size=4, log=lambda *_: None)
    assert 0 <= model.identify(clips[0]["audio"]) < model.head.out_features
    voice = model.embed(clips[0]["audio"])
    assert voice.shape == (2 * model.cfg.hidden,) and abs(float(voice.norm()) - 1) < 1e-5


@pytest.mark.slow
def test_shipped_judges_understand_real_held_out_speech():
    model, identifier = speech.load_judges(data_file("checkpoints/valle_judges.pt"))
    clips = spoken_clips("test", 8000)[::4]
    identified = [identifier.identify(c["audio"]) == c["speaker"] for c in clips]
    assert np.mean(identified) >= 0.9, f"speaker identification {np.mean(identified):.2f} on real held-out speech"
    phrases = {c["text"]: c["phonemes"] for split in ("train", "test") for c in spoken_clips(split, 8000)}
    heard = [speech.nearest_phrase(model.transcribe(c["audio"]), phrases) == c["text"] for c in clips]
    errors = [speech.edit_distance(model.transcribe(c["audio"]), [p for p in c["phonemes"] if p != "|"])
              / sum(p != "|" for p in c["phonemes"]) for c in clips]
    assert np.mean(heard) >= 0.9, f"phrase accuracy {np.mean(heard):.2f} on real held-out speech"
    assert np.mean(errors) < 0.15, f"phoneme error rate {np.mean(errors):.2f}"


@pytest.mark.slow
def test_shipped_speaker_embeddings_tell_held_out_voices_apart():
    """The d-vectors of real speech name the right voice among all eight, the two held-out voices
    included, when each voice is enrolled from other clips of it: the judge of unseen-voice cloning
    must work on real speech before it judges generated speech."""
    _, identifier = speech.load_judges(data_file("checkpoints/valle_judges.pt"))
    unseen = spoken_clips("unseen", 8000)
    enrol, probe = unseen[1::2], unseen[0::2]
    voices = sorted({c["speaker"] for c in unseen})
    centroids = torch.stack([torch.nn.functional.normalize(torch.stack(
        [identifier.embed(c["audio"]) for c in enrol if c["speaker"] == v]).mean(0), dim=0) for v in voices])
    named = [voices[int((centroids @ identifier.embed(c["audio"])).argmax())] == c["speaker"] for c in probe]
    held_out = [n for n, c in zip(named, probe) if c["speaker"] >= 6]
    assert np.mean(named) >= 0.9 and np.mean(held_out) >= 0.8, \
        f"voices named {np.mean(named):.2f} (held-out voices {np.mean(held_out):.2f})"
