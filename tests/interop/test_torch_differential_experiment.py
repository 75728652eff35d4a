"""PR curves, hparams and custom scalars: torch and eventwriter side by side."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from tbread import accumulate, accumulate_tensors, assert_same_loaded_runs, loaded_run, run_dirs
from tensorboard.plugins.hparams import metadata as hparams_metadata
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util
from torch.utils.tensorboard import SummaryWriter as TorchSummaryWriter

from eventwriter import SummaryWriter

WALL = 1_790_000_000.0


def both(tmp_path, calls):
    dirs = []
    for name, cls in [("torch", TorchSummaryWriter), ("ours", SummaryWriter)]:
        logdir = str(tmp_path / name)
        with cls(logdir) as writer:
            calls(writer, np.random.default_rng(0))
        dirs.append(logdir)
    return dirs[0], dirs[1]


# -- PR curves ---------------------------------------------------------------------


@pytest.mark.parametrize("num_thresholds", [2, 10, 127])
@pytest.mark.parametrize("weighted", [False, True])
def test_add_pr_curve(tmp_path, num_thresholds, weighted):
    def calls(writer, rng):
        labels = rng.integers(0, 2, 500)
        predictions = rng.random(500)
        weights = rng.random(500) if weighted else None
        writer.add_pr_curve("pr", labels, predictions, 0, num_thresholds, weights, WALL)
        writer.add_pr_curve(
            "pr_torch", torch.tensor(labels).bool(), torch.tensor(predictions).float(), 1, num_thresholds, walltime=WALL
        )

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)
    (point,) = loaded_run(our_dir)["pr"]["points"]
    assert point[2].shape == (6, num_thresholds)  # the pr_curves plugin's [6, T] tensor


def test_pr_curves_per_class_as_the_tutorial_logs_them(tmp_path):
    def calls(writer, rng):
        probabilities = torch.softmax(torch.tensor(rng.normal(size=(200, 10))), dim=1)
        labels = torch.tensor(rng.integers(0, 10, 200))
        for index, name in enumerate(["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]):
            writer.add_pr_curve(name, labels == index, probabilities[:, index], global_step=0, walltime=WALL)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_add_pr_curve_raw(tmp_path):
    def calls(writer, rng):
        tp, fp = [75, 64, 21, 5, 0], [150, 105, 18, 0, 0]
        tn, fn = [0, 45, 132, 150, 150], [0, 11, 54, 70, 75]
        precision = [0.3333333, 0.3786982, 0.5384616, 1.0, 0.0]
        recall = [1.0, 0.8533334, 0.28, 0.0666667, 0.0]
        writer.add_pr_curve_raw("prraw", tp, fp, tn, fn, precision, recall, 3, num_thresholds=5, walltime=WALL)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_difference_more_than_127_thresholds(tmp_path):
    labels, predictions = np.array([0, 1, 1, 0, 1]), np.array([0.1, 0.9, 0.6, 0.4, 0.35])
    with TorchSummaryWriter(str(tmp_path / "torch")) as writer:
        writer.add_pr_curve("pr", labels, predictions, num_thresholds=500)
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        writer.add_pr_curve("pr", labels, predictions, num_thresholds=500)
    theirs = accumulate_tensors(str(tmp_path / "torch")).Tensors("pr")[0]
    ours = accumulate_tensors(str(tmp_path / "ours")).Tensors("pr")[0]
    assert tensor_util.make_ndarray(theirs.tensor_proto).shape == (6, 127)  # torch caps silently
    curve = tensor_util.make_ndarray(ours.tensor_proto)
    assert curve.shape == (6, 500)
    np.testing.assert_allclose(curve[:, 0], [3, 2, 0, 0, 0.6, 1.0], rtol=1e-6)


def test_difference_float32_predictions_fall_in_their_true_bucket(tmp_path):
    # float32(65/126) is 0.515873015...; times 126 it is 64.99999988 in exact arithmetic,
    # but rounds to 65.0 in float32, where torch multiplies: torch counts it at threshold
    # 65/126, above its value. eventwriter multiplies in float64, exactly.
    prediction = np.float32(65 / 126)
    assert float(prediction) * 126 < 65 <= prediction * np.float32(126)
    labels, predictions = np.array([1]), np.array([prediction], dtype=np.float32)
    with TorchSummaryWriter(str(tmp_path / "torch")) as writer:
        writer.add_pr_curve("pr", labels, predictions)
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        writer.add_pr_curve("pr", labels, predictions)
    theirs = tensor_util.make_ndarray(accumulate_tensors(str(tmp_path / "torch")).Tensors("pr")[0].tensor_proto)
    ours = tensor_util.make_ndarray(accumulate_tensors(str(tmp_path / "ours")).Tensors("pr")[0].tensor_proto)
    assert theirs[0, 65] == 1  # a true positive at threshold 65/126, which the prediction is below
    assert ours[0, 65] == 0 and ours[0, 64] == 1
    np.testing.assert_array_equal(np.delete(ours, 65, axis=1), np.delete(theirs, 65, axis=1))


# -- hparams ------------------------------------------------------------------------


def _session(logdir):
    """(experiment, session start info) of the hparams session in ``logdir``."""
    accumulator = accumulate_tensors(logdir)
    parse = plugin_data_pb2.HParamsPluginData.FromString
    experiment = parse(accumulator.SummaryMetadata(hparams_metadata.EXPERIMENT_TAG).plugin_data.content).experiment
    start = parse(accumulator.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content)
    return experiment, start.session_start_info


def test_add_hparams_child_run(tmp_path):
    def calls(writer, rng):
        writer.add_scalar("loss", 0.5, 0, WALL)
        writer.add_hparams(
            {"lr": 0.1, "bsize": 4, "optimizer": "sgd", "dropout": None, "momentum": torch.tensor([0.9])},
            {"hparam/accuracy": 0.75, "hparam/loss": torch.tensor(0.25)},
            hparam_domain_discrete={"optimizer": ["sgd", "adam"], "bsize": [4, 8]},
            run_name="trial-1",
            global_step=7,
        )

    torch_dir, our_dir = both(tmp_path, calls)
    assert sorted(run_dirs(our_dir)) == [".", "trial-1"]
    assert_same_loaded_runs(torch_dir, our_dir, check_wall_time=False)
    assert _session(os.path.join(torch_dir, "trial-1")) == _session(os.path.join(our_dir, "trial-1"))
    points = accumulate(os.path.join(our_dir, "trial-1")).Scalars("hparam/accuracy")
    assert [(p.step, p.value) for p in points] == [(7, 0.75)]


def test_add_hparams_default_run_name_is_a_timestamp(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_hparams({"lr": 0.1}, {"m": 1.0})
    (child,) = [run for run in run_dirs(str(tmp_path)) if run != "."]
    assert float(child) > 1.7e9


def test_difference_bool_hparams_are_typed_bool(tmp_path):
    def calls(writer, rng):
        writer.add_hparams({"augment": True, "lr": 0.1}, {"m": 1.0}, {"augment": [True, False]}, run_name="r")

    torch_dir, our_dir = both(tmp_path, calls)
    their_experiment, their_start = _session(os.path.join(torch_dir, "r"))
    our_experiment, our_start = _session(os.path.join(our_dir, "r"))
    assert their_start.hparams["augment"].number_value == 1.0  # torch: a number
    assert our_start.hparams["augment"].WhichOneof("kind") == "bool_value" and our_start.hparams["augment"].bool_value
    types = {info.name: info.type for info in our_experiment.hparam_infos}
    assert types == {"augment": 2, "lr": 3}  # DATA_TYPE_BOOL, DATA_TYPE_FLOAT64
    assert [v.bool_value for v in our_experiment.hparam_infos[0].domain_discrete.values] == [True, False]
    assert {info.name: info.type for info in their_experiment.hparam_infos}["augment"] == 3


def test_difference_run_name_cannot_leave_the_log_dir(tmp_path):
    torch_log = tmp_path / "torch" / "a" / "run"
    with TorchSummaryWriter(str(torch_log)) as writer:
        writer.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name="../../x")
    assert (tmp_path / "torch" / "x").is_dir()  # torch wrote outside its log dir
    our_log = tmp_path / "ours" / "a" / "run"
    with SummaryWriter(str(our_log)) as writer:
        for bad in ["../../x", "/tmp/absolute", "a/../../.."]:
            with pytest.raises(ValueError, match="outside the log dir"):
                writer.add_hparams({"lr": 0.1}, {"m": 1.0}, run_name=bad)
    assert sorted(os.listdir(tmp_path / "ours" / "a" / "run")) == [
        name for name in os.listdir(tmp_path / "ours" / "a" / "run") if "tfevents" in name
    ]
    assert sorted(os.listdir(tmp_path / "ours")) == ["a"]


def test_same_run_puts_the_session_next_to_the_writers_scalars(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        for step in range(3):
            writer.add_scalar("hparam/accuracy", 0.5 + step / 10, step)
        writer.add_hparams({"lr": 0.01, "augment": False}, {"hparam/accuracy": 0.7}, global_step=3, same_run=True)
    assert list(run_dirs(str(tmp_path))) == ["."]
    experiment, start = _session(str(tmp_path))
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/accuracy"]
    assert start.hparams["lr"].number_value == 0.01 and start.hparams["augment"].bool_value is False
    points = accumulate(str(tmp_path)).Scalars("hparam/accuracy")
    assert [(p.step, round(p.value, 6)) for p in points] == [(0, 0.5), (1, 0.6), (2, 0.7), (3, 0.7)]


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (([1, 2], {}), TypeError, "hparam_dict must be a dict"),
        (({"a": 1}, [1]), TypeError, "metric_dict must be a dict"),
        (({"a": [1, 2]}, {}), TypeError, r"hparam 'a' must be a bool, str, int, float or None, got list \[1, 2\]"),
        (({"a": object()}, {}), TypeError, "hparam 'a' must be a bool, str, int, float or None, got object"),
        (({1: 0.1}, {}), TypeError, "hparam name must be a non-empty str, got int 1"),
        (({"": 0.1}, {}), ValueError, "hparam name must be a non-empty str, got an empty string"),
        (({"a": torch.tensor([])}, {}), ValueError, "hparam 'a' is an empty tensor"),
        (({"a": 10**400}, {}), ValueError, "hparam 'a' must fit in a float"),
        (
            ({"a": 1}, {}, {"a": ["x"]}),
            TypeError,
            r"hparam_domain_discrete\['a'\] must be a list of values of the type",
        ),
        (({"a": 1}, {}, {"b": [1]}), TypeError, r"hparam_domain_discrete\['b'\]"),
        (({"a": 1}, {}, [1]), TypeError, r"hparam_domain_discrete must be a dict, got list"),
        (({"a": 1}, {3: 1.0}), TypeError, r"metric name must be a non-empty str, got int 3"),
        (({"a": 1}, {"m": "high"}), TypeError, "'m': scalar_value"),
    ],
)
def test_add_hparams_bad_input(tmp_path, args, error, message):
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.raises(error, match=message):
            writer.add_hparams(*args, run_name="r")
    assert list(run_dirs(str(tmp_path))) == ["."]


def test_difference_hparam_of_an_unsupported_type_is_a_type_error(tmp_path):
    hparams = {"layers": [64, 32]}  # a list: TensorBoard has no type for it
    with TorchSummaryWriter(str(tmp_path / "torch")) as writer:
        with pytest.raises(ValueError, match=r"value should be one of int, float, str, bool, or torch\.Tensor"):
            writer.add_hparams(hparams, {"m": 1.0}, run_name="r")
    with SummaryWriter(str(tmp_path / "ours")) as writer:
        with pytest.raises(TypeError, match=r"hparam 'layers' must be a bool, str, int, float or None, got list"):
            writer.add_hparams(hparams, {"m": 1.0}, run_name="r")


# -- custom scalars -----------------------------------------------------------------


def test_add_custom_scalars(tmp_path):
    layout = {
        "Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
        "USA": {
            "dow": ["Margin", ["dow/aaa", "dow/bbb", "dow/ccc"]],
            "nasdaq": ["Margin", ["nasdaq/aaa", "nasdaq/bbb", "nasdaq/ccc"]],
        },
    }

    def calls(writer, rng):
        writer.add_custom_scalars(layout)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir, check_wall_time=False)


@pytest.mark.parametrize("method", ["add_custom_scalars_multilinechart", "add_custom_scalars_marginchart"])
def test_add_custom_scalars_single_charts(tmp_path, method):
    torch_dir, our_dir = both(tmp_path, lambda w, rng: getattr(w, method)(["a", "b", "c"], category="cat", title="t"))
    assert_same_loaded_runs(torch_dir, our_dir, check_wall_time=False)


def test_custom_scalars_layout_is_what_the_plugin_reads(tmp_path):
    from tensorboard.plugins.custom_scalar import layout_pb2

    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_custom_scalars_multilinechart(["loss/.*"], category="Losses", title="all losses")
    (event,) = accumulate_tensors(str(tmp_path)).Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(tensor_util.make_ndarray(event.tensor_proto).item())
    assert layout.category[0].title == "Losses"
    assert list(layout.category[0].chart[0].multiline.tag) == ["loss/.*"]


def test_soft_labels_are_weights_as_in_torch(tmp_path):
    def calls(writer, rng):
        writer.add_pr_curve("soft", rng.random(100), rng.random(100), 0, walltime=WALL)

    torch_dir, our_dir = both(tmp_path, calls)
    assert_same_loaded_runs(torch_dir, our_dir)


def test_difference_pr_curve_raw_metadata_records_the_curve_length(tmp_path):
    curves = ([75, 64, 21, 5, 0], [150, 105, 18, 0, 0], [0, 45, 132, 150, 150], [0, 11, 54, 70, 75],
              [0.33, 0.38, 0.54, 1.0, 0.0], [1.0, 0.85, 0.28, 0.07, 0.0])  # fmt: skip
    torch_dir, our_dir = both(tmp_path, lambda w, rng: w.add_pr_curve_raw("prraw", *curves, 0, walltime=WALL))
    theirs, ours = loaded_run(torch_dir)["prraw"], loaded_run(our_dir)["prraw"]
    np.testing.assert_array_equal(theirs["points"][0][2], ours["points"][0][2])  # the same [6, 5] data
    from tensorboard.plugins.pr_curve.plugin_data_pb2 import PrCurvePluginData

    assert PrCurvePluginData.FromString(theirs["metadata"][1]).num_thresholds == 127
    assert PrCurvePluginData.FromString(ours["metadata"][1]).num_thresholds == 5
