"""SummaryWriter: the drop-in for torch.utils.tensorboard.SummaryWriter.

The methods live by subject: writer_core (construction, lifecycle, scalars, text,
tensors), writer_media (histograms, images, figures, video, audio, meshes),
writer_experiment (PR curves, hparams, custom scalars) and writer_model (embeddings).
"""

from __future__ import annotations

from eventwriter.writer_experiment import ExperimentMethods
from eventwriter.writer_media import MediaMethods
from eventwriter.writer_model import ModelMethods

__all__ = ["SummaryWriter"]


class SummaryWriter(MediaMethods, ExperimentMethods, ModelMethods):
    """Writes TensorBoard event files into ``log_dir``; same API as torch's SummaryWriter.

    Args:
        log_dir: run directory (str or path-like). Default:
            ``runs/<Mon><DD>_<HH-MM-SS>_<hostname><comment>``.
        comment: suffix of the default ``log_dir``; ignored when ``log_dir`` is given.
        purge_step: on resuming at step T, TensorBoard hides this run's earlier events
            with step >= T.
        max_queue: pending events that make an ``add`` start a write at once.
        flush_secs: seconds between fsyncs of written data (events become visible to
            TensorBoard within a fraction of a second regardless).
        filename_suffix: appended to the name of every event file.

    After ``close()`` the next ``add_*`` call opens a new event file, as torch does.
    """
