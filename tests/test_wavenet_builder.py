"""The WaveNet checkpoints: built from the solution's own classes, loadable, and as good as claimed."""
import math

import numpy as np
import pytest
import torch

from mmkit.data import data_file


@pytest.fixture(scope="module")
def definitions(builder):
    return builder.wavenet_definitions()


def load(definitions, name, model_class):
    blob = torch.load(data_file(f"checkpoints/{name}.pt"), weights_only=True)
    cfg = definitions["WaveNetConfig"](**{**blob["config"], "dilations": tuple(blob["config"]["dilations"])})
    model = definitions[model_class](cfg)
    model.load_state_dict(blob["state_dict"])          # strict: the notebook's classes, unchanged
    return model.eval(), blob


def test_shipped_wavenet_beats_uniform_on_held_out_speech(builder, definitions):
    model, blob = load(definitions, "wavenet", "WaveNet")
    assert blob["sample_rate"] == definitions["SAMPLE_RATE"] == 8000
    assert model.cfg.residual_channels == builder.WAVENET_PRETRAINED["residual_channels"]
    from mmkit.data import spoken_clips
    clips = [c for c in spoken_clips("test", 8000) if len(c["audio"]) >= 4000][:12]
    q = torch.stack([torch.from_numpy(definitions["mu_law_encode"](c["audio"][:4000])) for c in clips])
    with torch.no_grad():
        bits = definitions["wavenet_loss"](model(q, torch.tensor([c["speaker"] for c in clips])), q).item() / math.log(2)
    assert bits < 5.0, f"held-out loss {bits:.2f} bits per sample (8 is uniform; the notebook reports about 4)"


def test_shipped_vocoder_loads_with_its_mel_conditioning(definitions):
    model, blob = load(definitions, "wavenet_vocoder", "MelWaveNet")
    mel = torch.zeros(1, definitions["N_MELS"], 4)
    q = torch.full((1, 4 * definitions["HOP"]), 128)
    with torch.no_grad():
        quiet, loud = model(q, torch.tensor([0]), mel - 11), model(q, torch.tensor([0]), mel)
    assert quiet.shape == (1, 256, q.shape[1]) and (quiet - loud).abs().max() > 1e-3


def test_training_windows_start_on_a_mel_frame(builder, definitions):
    audio = np.sin(np.linspace(0, 300, 3000)).astype(np.float32) * 0.5
    data = [(torch.from_numpy(definitions["mu_law_encode"](audio)), 3, torch.from_numpy(definitions["log_mel"](audio)))]
    hop = definitions["HOP"]
    from mmkit.data import random_windows
    q, speakers, mel = random_windows(data, 4, 1024, np.random.default_rng(0), hop=hop)
    assert q.shape == (4, 1024) and mel.shape == (4, definitions["N_MELS"], 1024 // hop) and speakers.tolist() == [3] * 4
    for window, frames in zip(q, mel):
        start = next(s for s in range(0, 3000 - 1024 + 1, hop) if torch.equal(data[0][0][s:s + 1024], window))
        assert torch.equal(frames, data[0][2][:, start // hop: start // hop + 1024 // hop])


@pytest.mark.usefixtures("one_thread")
def test_builder_training_is_deterministic(builder, definitions, tmp_path, monkeypatch):
    audio = np.sin(np.linspace(0, 900, 8000)).astype(np.float32) * 0.5
    data = [(torch.from_numpy(definitions["mu_law_encode"](audio)), 0, None)]
    tiny = {"residual_channels": 4, "gate_channels": 4, "skip_channels": 4, "dilations": (1, 2, 4)}
    states = [builder.train_wavenet(definitions, data, tiny, steps=3, batch_size=2, length=512, device="cpu")[0].state_dict()
              for _ in range(2)]
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    monkeypatch.setattr(builder, "OUT", tmp_path)
    model, _ = builder.train_wavenet(definitions, data, tiny, steps=1, batch_size=1, length=256, device="cpu")
    path, = builder.save_wavenet(definitions, model, 1, "tiny")
    assert torch.load(path, weights_only=True)["config"]["dilations"] == (1, 2, 4)
