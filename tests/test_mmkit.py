"""mmkit's budget, device, seeding and pictures."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import torch

import mmkit
from mmkit.display import LossCurve, confusion_matrix, image_grid, similarity_heatmap


def test_budget_full_for_students_quick_for_the_autograder(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("MMKIT_QUICK", raising=False)
    assert mmkit.budget(1000, 10) == 1000 and not mmkit.is_autograding()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert mmkit.budget(1000, 10) == 10
    monkeypatch.delenv("NBGRADER_EXECUTION")
    monkeypatch.setenv("MMKIT_QUICK", "0")
    assert mmkit.budget(1000, 10) == 1000
    monkeypatch.setenv("MMKIT_QUICK", "1")
    assert mmkit.budget(1000, 10) == 10


def test_device_choice(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("MMKIT_QUICK", raising=False)
    monkeypatch.setenv("MMKIT_DEVICE", "cpu")
    assert mmkit.device() == torch.device("cpu")
    monkeypatch.delenv("MMKIT_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert mmkit.device().type == expected
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert mmkit.device().type == "cpu"     # every submission graded alike


def test_seed_everything_repeats():
    mmkit.seed_everything(3)
    a = (torch.rand(3), np.random.rand(3))
    mmkit.seed_everything(3)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_setup_sets_offline_mode(monkeypatch):
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    mmkit.setup()
    import os
    assert os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_image_grid_accepts_tensors_arrays_and_captions():
    images = torch.randint(0, 255, (5, 3, 8, 8), dtype=torch.uint8)
    fig = image_grid(images, [f"caption {i}" for i in range(5)], ncols=3)
    assert len([ax for ax in fig.axes if ax.images]) == 5
    fig = image_grid(np.zeros((2, 8, 8, 3)), ncols=4)
    assert len(fig.axes) == 2


def test_image_grid_rejects_mismatched_captions():
    import pytest
    with pytest.raises(ValueError, match="3 images but 2 captions"):
        image_grid(torch.zeros(3, 3, 4, 4), ["a", "b"])


def test_heatmap_and_confusion_matrix():
    fig = similarity_heatmap(torch.eye(3), ["a", "b", "c"], ["x", "y", "z"])
    assert fig.axes[0].get_title() == "cosine similarity"
    _, counts = confusion_matrix([0, 1, 1], [0, 1, 0], ["p", "q"])
    assert counts.tolist() == [[1, 0], [1, 1]]


def test_loss_curve_records_and_plots(monkeypatch):
    monkeypatch.setenv("MMKIT_QUICK", "1")      # silent bar
    curve = LossCurve(25, desc="t")
    for step in curve:
        curve.log(torch.tensor(1.0 / (step + 1)))
    assert len(curve.losses) == 25 and curve.losses[0] == 1.0
    ax = curve.plot()
    assert len(ax.lines) == 2 and ax.get_ylabel() == "loss"
