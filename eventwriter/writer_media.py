"""SummaryWriter methods for histograms, images, figures, video, audio and meshes.

Inputs are checked and copied in the caller's thread; the costly part of histograms,
images and video (bucketing, PNG and GIF encoding) runs in the writer thread, where
numpy and zlib release the GIL, so a training loop waits only for the copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventwriter import summary
from eventwriter import summary_media as builders
from eventwriter.convert import check_tag
from eventwriter.figures import figure_to_image
from eventwriter.plugins.histograms import tensorflow_bins
from eventwriter.writer_core import WriterCore

__all__ = ["MediaMethods"]


class MediaMethods(WriterCore):
    """The ``add_*`` methods for media; mixed into SummaryWriter."""

    @property
    def default_bins(self) -> list[float]:
        """TensorFlow's default histogram bucket edges (torch has this attribute too)."""
        return tensorflow_bins()

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: Any = None,
        bins: Any = "tensorflow",
        walltime: Any = None,
        max_bins: int | None = None,
    ) -> None:
        """Log a histogram of ``values`` (any shape; finite).

        Args:
            bins: "tensorflow" (default edges), a numpy rule ("auto", "fd", "doane",
                "scott", "stone", "rice", "sturges", "sqrt"), a count, or edges.
            max_bins: merge neighbouring bins until at most this many are left.
        """
        self._write_later(builders.prepare_histogram(tag, values, bins, max_bins), tag, global_step, walltime)

    def add_histogram_raw(
        self,
        tag: str,
        min: Any,
        max: Any,
        num: Any,
        sum: Any,
        sum_squares: Any,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a histogram given as statistics, right bucket edges and counts."""
        summary = builders.histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts)
        self._write(summary, tag, global_step, walltime)

    def add_image(
        self, tag: str, img_tensor: Any, global_step: Any = None, walltime: Any = None, dataformats: str = "CHW"
    ) -> None:
        """Log one image (PNG). Pixels: uint8 kept, other dtypes scaled by 255 and clipped.

        Args:
            dataformats: axis order: a permutation of "CHW", or "HW"; channels 1 (grey),
                3 (RGB) or 4 (RGBA).
        """
        self._write_later(builders.prepare_image(tag, img_tensor, dataformats=dataformats), tag, global_step, walltime)

    def add_images(
        self, tag: str, img_tensor: Any, global_step: Any = None, walltime: Any = None, dataformats: str = "NCHW"
    ) -> None:
        """Log a batch of images tiled into one, eight per row (``dataformats`` like "NCHW")."""
        self._write_later(builders.prepare_image(tag, img_tensor, dataformats=dataformats), tag, global_step, walltime)

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: Any,
        box_tensor: Any,
        global_step: Any = None,
        walltime: Any = None,
        rescale: float = 1,
        dataformats: str = "CHW",
        labels: Sequence[str] | str | None = None,
    ) -> None:
        """Log an image with red boxes ``(N, 4)`` of xmin, ymin, xmax, ymax, one label per box.

        Raises:
            ValueError: labels do not match the boxes one to one (torch drops them).
        """
        prepared = builders.prepare_image_boxes(tag, img_tensor, box_tensor, rescale, dataformats, labels)
        self._write_later(prepared, tag, global_step, walltime)

    def add_figure(
        self, tag: str, figure: Any, global_step: Any = None, close: bool = True, walltime: Any = None
    ) -> None:
        """Log a matplotlib figure, or a list of them as one tiled image; closes them by default."""
        check_tag(tag)
        pixels, dataformats = figure_to_image(tag, figure, close)
        self.add_image(tag, pixels, global_step, walltime, dataformats=dataformats)

    def add_video(
        self, tag: str, vid_tensor: Any, global_step: Any = None, fps: float = 4, walltime: Any = None
    ) -> None:
        """Log videos ``(N, T, C, H, W)`` as one animated GIF (needs Pillow, not moviepy)."""
        self._write_later(builders.prepare_video(tag, vid_tensor, fps), tag, global_step, walltime)

    def add_audio(
        self, tag: str, snd_tensor: Any, global_step: Any = None, sample_rate: float = 44100, walltime: Any = None
    ) -> None:
        """Log a WAV clip, mono ``(L,)`` or stereo ``(2, L)``, samples in [-1, 1]."""
        self._write(builders.audio(tag, snd_tensor, sample_rate), tag, global_step, walltime)

    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: dict[str, Any] | None = None,
        global_step: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a mesh or point cloud: ``(B, N, 3)`` vertices and colors, ``(B, F, 3)`` faces."""
        self._write(summary.mesh(tag, vertices, colors, faces, config_dict), tag, global_step, walltime)
