"""A grid of images with captions (the report's most confident mistakes)."""

from typing import Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

from kclass.report.plots import save


def load_image(path: str) -> Optional[np.ndarray]:
    """uint8 [H, W, 3] of an image file, or None if it cannot be read (the gallery shows a blank)."""
    from PIL import Image  # Matplotlib's own dependency

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError):
        return None


def gallery_png(path: str, images: Sequence[Optional[np.ndarray]], captions: Sequence[str], columns: int = 6,
                title: str = "") -> Figure:
    """`images` uint8 [H, W, 3] (None: unreadable) in a grid, each with its (multi-line) caption.

    Small images (CIFAR's 32x32) are enlarged with nearest-neighbour pixels so they stay sharp.
    """
    n = max(len(images), 1)
    columns = min(columns, n)
    rows = -(-n // columns)
    fig = Figure(figsize=(2.2 * columns, 2.6 * rows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, image, caption in zip(axes, images, captions):
        if image is None:
            ax.text(0.5, 0.5, "(unreadable)", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.imshow(image, interpolation="nearest")
        ax.set_title(caption, fontsize=8)
    if not len(images):
        axes[0].text(0.5, 0.5, "no mistakes", ha="center", va="center", transform=axes[0].transAxes)
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path)
