"""Pictures for the notebooks: image grids, heat maps, confusion matrices and loss curves."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch
from tqdm.auto import tqdm

from .budget import is_autograding

__all__ = ["image_grid", "similarity_heatmap", "confusion_matrix", "LossCurve"]


def _to_hwc(image) -> np.ndarray:
    """One image (tensor or array, (3, H, W) or (H, W, 3), uint8 or float in [0, 1]) or a PIL
    image -> (H, W, 3) array for imshow."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
        image = image.transpose(1, 2, 0)
    return image


def image_grid(images, captions=None, ncols: int = 6, size: float = 2.0, wrap: int = 28,
               title: str | None = None):
    """Show images in a grid, each with its caption wrapped below it. Returns the figure."""
    images = list(images)
    captions = list(captions) if captions is not None else [None] * len(images)
    if len(captions) != len(images):
        raise ValueError(f"image_grid: {len(images)} images but {len(captions)} captions")
    ncols = max(1, min(ncols, len(images)))
    nrows = (len(images) + ncols - 1) // ncols
    extra = 0.0 if captions[0] is None else 0.2 * max(
        len(textwrap.wrap(c or "", wrap)) for c in captions)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + extra)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        ax.imshow(_to_hwc(image), interpolation="nearest")
        if caption:
            ax.set_title("\n".join(textwrap.wrap(caption, wrap)), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def similarity_heatmap(similarity, row_labels=None, col_labels=None, title: str = "cosine similarity",
                       annotate: bool = True):
    """Heat map of a (rows, cols) similarity matrix, each cell annotated with its value."""
    sim = similarity.detach().cpu().numpy() if isinstance(similarity, torch.Tensor) else np.asarray(similarity)
    rows, cols = sim.shape
    fig, ax = plt.subplots(figsize=(1 + 0.6 * cols, 1 + 0.5 * rows))
    im = ax.imshow(sim, cmap="viridis")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if annotate and rows * cols <= 400:
        for i in range(rows):
            for j in range(cols):
                ax.text(j, i, f"{sim[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if sim[i, j] < sim.mean() else "black")
    if row_labels is not None:
        ax.set_yticks(range(rows), [textwrap.shorten(str(t), 40) for t in row_labels], fontsize=8)
    if col_labels is not None:
        ax.set_xticks(range(cols), [textwrap.shorten(str(t), 40) for t in col_labels], fontsize=8,
                      rotation=60, ha="right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def confusion_matrix(truth, predicted, labels, title: str = "confusion matrix"):
    """Plot counts of (true class, predicted class); returns (figure, counts array)."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    counts = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(counts, (truth, predicted), 1)
    fig, ax = plt.subplots(figsize=(2 + 0.28 * len(labels), 1.5 + 0.28 * len(labels)))
    ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig, counts


class LossCurve:
    """A training loop's progress bar and loss record.

        curve = LossCurve(steps, desc="CLIP")
        for step in curve:            # range(steps) with a tqdm.auto progress bar
            loss = train_step(...)
            curve.log(loss)           # remembered, and shown in the bar
        curve.plot()                  # loss against step

    The bar is silent under the autograder, whose output should stay small.
    """

    def __init__(self, steps: int, desc: str = "training"):
        self.steps, self.desc, self.losses = steps, desc, []
        self.bar = tqdm(total=steps, desc=desc, disable=is_autograding(), leave=True)

    def __iter__(self):
        for step in range(self.steps):
            yield step
            self.bar.update(1)
        self.bar.close()

    def log(self, loss: float) -> None:
        loss = float(loss)
        self.losses.append(loss)
        if len(self.losses) % 10 == 0 or len(self.losses) == self.steps:
            self.bar.set_postfix(loss=f"{np.mean(self.losses[-10:]):.3f}")

    def plot(self, ax=None, label: str | None = None, smooth: int = 10):
        """Loss against step, raw (faint) and as a running mean over `smooth` steps."""
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.2))
        losses = np.asarray(self.losses)
        line, = ax.plot(losses, alpha=0.3)
        if len(losses) >= smooth:
            mean = np.convolve(losses, np.ones(smooth) / smooth, mode="valid")
            ax.plot(np.arange(smooth - 1, len(losses)), mean, color=line.get_color(),
                    label=label or self.desc)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend()
        ax.grid(alpha=0.3)
        return ax
