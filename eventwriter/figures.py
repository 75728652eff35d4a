"""matplotlib figures to pixels, rendered as torch.utils.tensorboard renders them.

A figure is drawn on an Agg canvas and its RGB pixels are returned channels first
(CHW); a list of figures gives NCHW (all figures must have the same size). matplotlib
is imported only when a figure is passed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from eventwriter.convert import describe

__all__ = ["figure_to_image"]


def _render(figure: Any, close: bool) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # type: ignore[no-untyped-call]
    width, height = figure.canvas.get_width_height()
    buffer = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
    rgba = np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 4)
    if close:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return np.moveaxis(rgba[:, :, :3], 2, 0)


def _check_figure(figure: Any, tag: str) -> None:
    # A Figure can only exist once matplotlib is imported; subclasses (proplot's...) count.
    matplotlib_figure = sys.modules.get("matplotlib.figure")
    if matplotlib_figure is not None and isinstance(figure, matplotlib_figure.Figure):
        return
    raise TypeError(f"{tag!r}: figure must be a matplotlib Figure or a list of them, got {describe(figure)}")


def figure_to_image(tag: str, figures: Any, close: bool = True) -> tuple[np.ndarray, str]:
    """Pixels of one figure (CHW) or of a list of figures (NCHW), and that data format.

    Raises:
        TypeError: something other than a matplotlib Figure (or a list of them) came.
        ValueError: an empty list, or figures of different sizes.
    """
    if isinstance(figures, Sequence) and not isinstance(figures, (str, bytes)):
        if not figures:
            raise ValueError(f"{tag!r}: the list of figures is empty")
        for figure in figures:
            _check_figure(figure, tag)
        images = [_render(figure, close) for figure in figures]
        if len({image.shape for image in images}) != 1:
            raise ValueError(f"{tag!r}: figures in one list must have the same size, got {[i.shape for i in images]}")
        return np.stack(images), "NCHW"
    _check_figure(figures, tag)
    return _render(figures, close), "CHW"
