"""torch.utils.tensorboard.summary's builders, under torch's names and signatures.

``from eventwriter.summary import hparams`` replaces
``from torch.utils.tensorboard.summary import hparams``. Each builder lives in its plugin
module in eventwriter.plugins, which checks and converts its inputs (torch tensors on any
device, numpy arrays, Python numbers and sequences); this module only gathers them.
Results are eventwriter ``Summary`` protos, for ``FileWriter.add_summary``. Errors are
TypeError (wrong type) or ValueError (wrong value) and start with the tag; the data
arguments are named as SummaryWriter names them (``text_string``, ``img_tensor``,
``snd_tensor``, ...), since SummaryWriter's methods are where nearly all calls come from.
"""

from __future__ import annotations

from eventwriter.plugins.audio import audio
from eventwriter.plugins.custom_scalars import custom_scalars
from eventwriter.plugins.histograms import histogram, histogram_raw, make_histogram
from eventwriter.plugins.hparams import hparams
from eventwriter.plugins.images import image, image_boxes
from eventwriter.plugins.mesh import mesh
from eventwriter.plugins.pr_curves import compute_curve, pr_curve, pr_curve_raw
from eventwriter.plugins.scalars import scalar
from eventwriter.plugins.tensor import tensor_proto
from eventwriter.plugins.text import text
from eventwriter.plugins.video import video

__all__ = [
    "audio",
    "compute_curve",
    "custom_scalars",
    "histogram",
    "histogram_raw",
    "hparams",
    "image",
    "image_boxes",
    "make_histogram",
    "mesh",
    "pr_curve",
    "pr_curve_raw",
    "scalar",
    "tensor_proto",
    "text",
    "video",
]
