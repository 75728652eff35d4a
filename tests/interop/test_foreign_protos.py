"""FileWriter takes Events and Summaries built with tensorboard's or tensorboardX's classes.

Lightning and stable-baselines3 build hparams summaries themselves and call
``writer.file_writer.add_summary``; all three proto packages coexist in one process.
"""

from __future__ import annotations

import pytest
from tbread import accumulate, accumulate_tensors
from tensorboard.compat.proto import event_pb2 as tb_event_pb2
from tensorboard.compat.proto import summary_pb2 as tb_summary_pb2
from tensorboard.plugins.hparams import summary_v2 as hp
from tensorboardX.proto import event_pb2 as tbx_event_pb2
from tensorboardX.proto import summary_pb2 as tbx_summary_pb2

from eventwriter import FileWriter, SummaryWriter
from eventwriter.proto.event_pb2 import Event


@pytest.mark.parametrize("summary_module", [tb_summary_pb2, tbx_summary_pb2], ids=["tensorboard", "tensorboardX"])
def test_add_summary_with_foreign_summary(logdir, summary_module):
    summary = summary_module.Summary(value=[summary_module.Summary.Value(tag="foreign", simple_value=2.5)])
    with SummaryWriter(logdir) as writer:
        writer.file_writer.add_summary(summary, 7, 1000.0)
    (point,) = accumulate(logdir).Scalars("foreign")
    assert (point.step, point.wall_time, point.value) == (7, 1000.0, 2.5)


@pytest.mark.parametrize("event_module", [tb_event_pb2, tbx_event_pb2], ids=["tensorboard", "tensorboardX"])
def test_add_event_with_foreign_event(logdir, event_module):
    event = event_module.Event()
    event.summary.value.add(tag="e", simple_value=1.0)
    writer = FileWriter(logdir)
    writer.add_event(event, step=3)
    writer.close()
    (point,) = accumulate(logdir).Scalars("e")
    assert (point.step, point.value) == (3, 1.0)


def test_tensorboard_hparams_summary_as_lightning_writes_it(logdir):
    # What Lightning's TensorBoardLogger.log_hyperparams does with tensorboard's hparams API.
    with SummaryWriter(logdir) as writer:
        writer.file_writer.add_summary(hp.hparams_pb({"lr": 0.1, "optimizer": "sgd"}))
        writer.add_scalar("hp_metric", 0.5, 0)
    accumulator = accumulate_tensors(logdir)
    assert "_hparams_/session_start_info" in accumulator.Tags()["tensors"]
    metadata = accumulator.SummaryMetadata("_hparams_/session_start_info")
    assert metadata.plugin_data.plugin_name == "hparams"


def test_anything_without_serialize_is_refused(logdir):
    writer = FileWriter(logdir)
    with pytest.raises(TypeError, match="summary must be a protocol buffer Summary, got dict"):
        writer.add_summary({"tag": "x"})
    with pytest.raises(TypeError, match="event must be a protocol buffer Event"):
        writer.add_event("not an event")
    writer.add_event(Event(file_version="x"))
    writer.close()
