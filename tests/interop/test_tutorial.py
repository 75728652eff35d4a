"""The main job (examples/tutorial.py) runs, logs what the tutorial logs, and TensorBoard reads it."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from tbread import accumulate

from eventwriter.reader import find_event_files, scan_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUTORIAL = os.path.join(ROOT, "examples", "tutorial.py")


def run_tutorial(*args):
    result = subprocess.run([sys.executable, TUTORIAL, *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def write_idx(path, array, magic):
    with gzip.open(path, "wb") as handle:
        handle.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape) + array.tobytes())


@pytest.mark.slow
def test_offline_run_uses_the_bundled_digits(tmp_path):
    logdir = str(tmp_path / "run")
    out = run_tutorial("--dataset", "digits", "--epochs", "1", "--max-batches", "200", "--logdir", logdir)
    assert "Data: digits (scikit-learn), 1437 training and 360 validation images." in out
    assert "all sound." in out and "TensorBoard will show all of it" in out and f"tensorboard --logdir {logdir}" in out
    main = accumulate(logdir)
    assert main.Tags()["images"] == ["Four digits Images", "first 32 training images", "predictions vs. actuals"]
    (image,) = main.Images("Four digits Images")
    assert (image.width, image.height) == (2 + 4 * 30, 2 + 30)  # torchvision's grid of four, padding 2
    assert [(i.width, i.height) for i in main.Images("first 32 training images")] == [(8 * 28, 4 * 28)]
    assert [i.step for i in main.Images("predictions vs. actuals")] == [199]
    assert set(main.Tags()["tensors"]) == {"run/text_summary", *(str(digit) for digit in range(10))}
    assert {"Group1/data1", "Group1/data2", "Group2/data1"} <= set(main.Tags()["scalars"])
    histograms = main.Tags()["histograms"]
    assert "distribution centers" in histograms and "weights/conv1.weight" in histograms
    assert "gradients/fc3.bias" in histograms
    assert [h.step for h in main.Histograms("weights/fc1.weight")] == [0]
    pr_tensor = main.Tensors("3")[0].tensor_proto
    assert [d.size for d in pr_tensor.tensor_shape.dim] == [6, 127]
    hparams_run = accumulate(os.path.join(logdir, "hparams"))
    assert set(hparams_run.Tags()["scalars"]) == {"hparam/accuracy", "hparam/loss"}
    assert main.Graph() is not None and any("Conv2d[conv1]" in node.name for node in main.Graph().node)
    assert accumulate(os.path.join(logdir, "simple_model")).Graph() is not None
    config = open(os.path.join(logdir, "projector_config.pbtxt")).read()
    assert 'tensor_name: "default:00000"' in config and "single_image_dim: 28" in config
    with open(os.path.join(logdir, "00000", "default", "metadata.tsv")) as handle:
        assert len(handle.read().splitlines()) == 100
    for curve in ("xsinx", "xcosx", "tanx"):
        assert len(accumulate(os.path.join(logdir, f"run_14h_{curve}")).Scalars("run_14h")) == 100
    for key in ("Training", "Validation"):
        points = accumulate(os.path.join(logdir, f"Training vs. Validation Loss_{key}")).Scalars(
            "Training vs. Validation Loss"
        )
        assert [p.step for p in points] == [99, 199]
        assert all(0 < p.value < 5 for p in points)


@pytest.mark.slow
def test_fashion_mnist_found_in_data_dir_is_used(tmp_path):
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 480), ("t10k", 40)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), 0x803)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, count, dtype=np.uint8), 0x801)
        subprocess.run(["gunzip", "-k", str(raw / f"{prefix}-images-idx3-ubyte.gz")], check=True)
        subprocess.run(["gunzip", "-k", str(raw / f"{prefix}-labels-idx1-ubyte.gz")], check=True)
    logdir = str(tmp_path / "run")
    out = run_tutorial("--data-dir", str(tmp_path / "data"), "--validation-batches", "5", "--logdir", logdir)
    assert "Data: Fashion-MNIST, 480 training and 40 validation images." in out
    assert "could not be downloaded" not in out
    assert "Four Fashion-MNIST Images" in accumulate(logdir).Tags()["images"]
    assert "T-shirt/top" in accumulate(logdir).Tags()["tensors"]  # a PR curve per class, named


@pytest.mark.parametrize(
    "script",
    [
        "scalars",
        "histograms",
        "images",
        "pr_curves",
        "hparams",
        "embeddings",
        pytest.param("graphs", marks=pytest.mark.slow),
    ],
)
def test_each_section_script_runs_on_its_own(tmp_path, script):
    logdir = str(tmp_path / script)
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", f"{script}.py"), logdir],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tensorboard --logdir {logdir}"
    reports = [scan_file(path) for paths in find_event_files(logdir).values() for path in paths]
    assert reports and all(r.sound for r in reports)
    if script == "graphs":
        assert accumulate(logdir).Graph() is not None
    elif script == "embeddings":
        assert os.path.exists(os.path.join(logdir, "projector_config.pbtxt"))
    else:
        assert sum(r.records for r in reports) > 2 * len(reports)
