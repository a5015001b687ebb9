"""mmkit.speech: the independent recogniser that judges generated speech in the VALL-E notebook."""
import numpy as np
import pytest

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
