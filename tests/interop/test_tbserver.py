"""The harness in tbserver.py: the real TensorBoard server, under both loaders, serves a run eventwriter wrote."""

from __future__ import annotations

import signal

import numpy as np
import pytest
from tbserver import TensorBoardStartError, live_processes, skip_unless_tensorboard, tensorboard_server

from eventwriter import SummaryWriter

skip_unless_tensorboard()
pytestmark = pytest.mark.needs_tensorboard

STEPS = [0, 3, 7, 20]
VALUES = [0.5, 0.25, -1.75, 1024.0]  # exact in float32


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("tbserver")
    with SummaryWriter(str(logdir / "train")) as writer:
        for step, value in zip(STEPS, VALUES):
            writer.add_scalar("loss", value, step)
        writer.add_histogram("weights", np.linspace(-1, 1, 101), 0)
        writer.add_image("grid", np.linspace(0, 1, 3 * 8 * 12).reshape(3, 8, 12), 0)
    return str(logdir)


@pytest.mark.parametrize("load_fast", [True, False], ids=["rust", "python"])
def test_server_serves_what_was_written(small_run, load_fast):
    with tensorboard_server(small_run, load_fast=load_fast) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.get_json("data/runs") == ["train"]
        points = server.get_json("data/plugin/scalars/scalars", run="train", tag="loss")
        assert [(step, value) for _, step, value in points] == list(zip(STEPS, VALUES))
        assert list(server.get_json("data/plugin/images/tags")["train"]) == ["grid"]
        assert list(server.get_json("data/plugin/histograms/tags")["train"]) == ["weights"]
        (series,) = server.post_json(
            "data/plugin/timeseries/timeSeries", {"requests": [{"plugin": "scalars", "tag": "loss", "run": "train"}]}
        )
        assert [(p["step"], p["value"]) for p in series["runToSeries"]["train"]] == list(zip(STEPS, VALUES))
        (image,) = server.get_json("data/plugin/images/images", run="train", tag="grid")
        png = server.get_bytes("data/plugin/images/individualImage", blob_key=image["query"].split("blob_key=")[1])
        assert png.startswith(b"\x89PNG")
        loader = "rustboard" if load_fast else "Python"
        assert ("Finished load cycle" in server.output()) == load_fast, loader
        pgid = server.process.pid
    assert not live_processes(pgid), "TensorBoard or its data server outlived the block"


def test_a_server_that_fails_to_start_raises_with_its_output(tmp_path):
    with (
        pytest.raises(TensorBoardStartError, match="--no_such_flag"),
        tensorboard_server(str(tmp_path), load_fast=False, extra_args=["--no_such_flag"], timeout=30),
    ):
        pass


def test_the_process_group_is_ended_when_the_test_fails(small_run):
    with pytest.raises(KeyError), tensorboard_server(small_run, load_fast=True) as server:
        pgid = server.process.pid
        raise KeyError
    assert not live_processes(pgid)
    assert server.process.returncode in (-signal.SIGTERM, 0)
