"""Frameworks that create torch's (or tensorboardX's) writer themselves, made to use
eventwriter's by ``eventwriter.patch()``.

Each test runs a tiny CPU job of one framework twice, from two working directories of the
same shape: once as the framework ships (the baseline writer), once patched. TensorBoard's
own loading path then reads both log dirs, which must show the same runs, tags, metadata,
steps and values (values that measure time excepted); every event file of the patched job
must be eventwriter's, and unpatch() must restore the baseline.
"""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")

from tbread import loaded_run, other_events, run_dirs  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader  # noqa: E402
from tensorboard.compat.proto.graph_pb2 import GraphDef  # noqa: E402

import eventwriter  # noqa: E402


def run_job(tmp_path, monkeypatch, job, *, patched: bool) -> str:
    """Run ``job()`` in ``tmp_path/{baseline,patched}`` (relative paths look the same in
    both, so paths logged as text match); return that directory."""
    where = tmp_path / ("patched" if patched else "baseline")
    where.mkdir()
    monkeypatch.chdir(where)
    torch.manual_seed(0)
    np.random.seed(0)
    if patched:
        with eventwriter.patch() as patch:
            assert patch.replaced
            job()
    else:
        job()
    return str(where)


def run_name(name: str) -> str:
    """hparams child runs are named by the time they were made: compare them by shape."""
    return re.sub(r"\d{9,}\.\d+", "<time>", name)


def assert_same_view(baseline: str, ours: str, timing: str = r"^$") -> None:
    """TensorBoard shows the same in both; tags matching ``timing`` compare by shape only."""
    their_runs = {run_name(name): path for name, path in run_dirs(baseline).items()}
    our_runs = {run_name(name): path for name, path in run_dirs(ours).items()}
    assert sorted(our_runs) == sorted(their_runs)
    assert their_runs, "the job logged nothing"
    for run, their_dir in their_runs.items():
        theirs, mine = loaded_run(their_dir), loaded_run(our_runs[run])
        assert sorted(mine) == sorted(theirs), run
        for tag, their_tag in theirs.items():
            our_tag = mine[tag]
            assert our_tag["metadata"] == their_tag["metadata"], (run, tag)
            assert [p[0] for p in our_tag["points"]] == [p[0] for p in their_tag["points"]], (run, tag)
            for (step, _, their_value), (_, _, our_value) in zip(their_tag["points"], our_tag["points"]):
                assert our_value.dtype == their_value.dtype and our_value.shape == their_value.shape, (run, tag)
                if their_tag["metadata"][0] == "graphs":  # a node's attr map has no order on the wire
                    assert graph(our_value.item()) == graph(their_value.item()), (run, tag)
                elif not re.search(timing, tag):
                    np.testing.assert_array_equal(our_value, their_value, err_msg=f"{run} {tag} step {step}")
        assert normal(other_events(our_runs[run])) == normal(other_events(their_dir)), run


def graph(serialized: bytes) -> GraphDef:
    return GraphDef.FromString(serialized)


def normal(events: list[tuple]) -> list[tuple]:
    """``other_events`` with graphs parsed (their maps' order on the wire is free)."""
    return [(kind, step, graph(detail) if kind == "graph_def" else detail) for kind, step, detail in events]


def writers_of(logdir: str) -> set[str]:
    """``source_metadata.writer`` of the first event of every event file below ``logdir``."""
    found = set()
    for run_dir in run_dirs(logdir).values():
        for name in os.listdir(run_dir):
            if "tfevents" in name:
                first = next(iter(LegacyEventFileLoader(os.path.join(run_dir, name)).Load()))
                found.add(first.source_metadata.writer)
    return found


def compare(tmp_path, monkeypatch, job, timing: str = r"^$") -> None:
    baseline = run_job(tmp_path, monkeypatch, job, patched=False)
    ours = run_job(tmp_path, monkeypatch, job, patched=True)
    assert writers_of(ours) == {"eventwriter"}
    assert "eventwriter" not in writers_of(baseline)
    assert_same_view(baseline, ours, timing)


def tiny_data(rows: int = 32):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 4, generator=generator)
    return torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True))


def test_patch_replaces_torch_and_tensorboardx_classes_and_unpatch_restores_them():
    import torch.utils.tensorboard as torch_tb
    import torch.utils.tensorboard.writer as torch_writer

    tensorboardx = pytest.importorskip("tensorboardX")
    originals = (torch_tb.SummaryWriter, torch_tb.FileWriter, tensorboardx.SummaryWriter, tensorboardx.FileWriter)
    early = type(sys)("bound_before")  # a module that did `from torch.utils.tensorboard import SummaryWriter`
    early.SummaryWriter, early.unrelated = originals[0], object()
    late = type(sys)("bound_while_patched")
    sys.modules[early.__name__], sys.modules[late.__name__] = early, late
    try:
        with eventwriter.patch() as patch:
            assert issubclass(torch_tb.SummaryWriter, eventwriter.SummaryWriter)
            assert torch_writer.FileWriter is originals[1]  # torch's own module keeps torch's classes
            assert issubclass(tensorboardx.SummaryWriter, eventwriter.SummaryWriter)
            assert issubclass(tensorboardx.FileWriter, eventwriter.FileWriter)
            assert early.SummaryWriter is torch_tb.SummaryWriter
            assert "bound_before.SummaryWriter" in patch.replaced
            late.SummaryWriter = torch_tb.SummaryWriter  # imported while patched
            with eventwriter.patch() as inner:  # already patched: leaving it leaves the patch
                assert inner.replaced == patch.replaced
            assert issubclass(torch_tb.SummaryWriter, eventwriter.SummaryWriter)
        current = (torch_tb.SummaryWriter, torch_tb.FileWriter, tensorboardx.SummaryWriter, tensorboardx.FileWriter)
        assert current == originals
        assert early.SummaryWriter is late.SummaryWriter is originals[0]
        assert torch_writer.SummaryWriter is originals[0]
        eventwriter.unpatch()  # idempotent
        assert torch_tb.SummaryWriter is originals[0]
        eventwriter.patch()
        eventwriter.unpatch()
        assert torch_tb.SummaryWriter is originals[0]
    finally:
        eventwriter.unpatch()
        del sys.modules[early.__name__], sys.modules[late.__name__]


def test_writers_made_before_the_patch_stay_torchs(tmp_path):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    module = type(sys)("eventwriter_experiments")  # a user's module, eventwriter in its name
    module.SummaryWriter = TorchWriter
    sys.modules[module.__name__] = module
    before = TorchWriter(str(tmp_path / "before"))
    try:
        with eventwriter.patch():
            assert issubclass(module.SummaryWriter, eventwriter.SummaryWriter)
            before.add_scalars("m", {"k": 1.0}, 0)  # torch's writer makes torch's FileWriter
            before.close()
            with module.SummaryWriter(str(tmp_path / "during")) as during:
                during.add_scalars("m", {"k": 1.0}, 0)
        assert module.SummaryWriter is TorchWriter
    finally:
        del sys.modules[module.__name__]
    assert "eventwriter" not in writers_of(str(tmp_path / "before"))
    assert writers_of(str(tmp_path / "during")) == {"eventwriter"}


def test_tensorboardx_arguments(tmp_path):
    pytest.importorskip("tensorboardX")
    from eventwriter.patching import TensorboardXFileWriter, TensorboardXSummaryWriter

    with TensorboardXSummaryWriter(logdir=str(tmp_path / "a"), flush_secs=5) as writer:
        writer.add_scalar("x", 1.0, 0)
        assert writer.logdir == str(tmp_path / "a")
    with TensorboardXSummaryWriter(str(tmp_path / "b"), write_to_disk=False) as writer:
        writer.add_scalar("x", 1.0, 0)
        with pytest.raises(TypeError, match="'x'"):
            writer.add_scalar("x", "one", 0)  # checked as usual
    with pytest.raises(ValueError, match="not both"):
        TensorboardXSummaryWriter(logdir="a", log_dir="b")
    file_writer = TensorboardXFileWriter(logdir=str(tmp_path / "c"))
    file_writer.close()
    assert sorted(os.listdir(tmp_path)) == ["a", "c"]


def test_pytorch_lightning(tmp_path, monkeypatch):
    pl = pytest.importorskip("pytorch_lightning")
    from torch.nn import functional

    class Tiny(pl.LightningModule):
        def __init__(self, lr: float = 0.05, hidden: int = 3) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))
            self.example_input_array = torch.zeros(2, 4)

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, _):
            loss = functional.mse_loss(self(batch[0]), batch[1])
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _):
            self.log("val_loss", functional.mse_loss(self(batch[0]), batch[1]))

        def on_train_epoch_end(self):
            self.logger.experiment.add_histogram("weights", self.net[0].weight, self.current_epoch)
            self.logger.experiment.add_scalars("both", {"a": 1.0, "b": float(self.current_epoch)}, self.current_epoch)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    def job():
        pl.seed_everything(0, verbose=False)
        loader = torch.utils.data.DataLoader(tiny_data(), batch_size=8)
        logger = pl.loggers.TensorBoardLogger("logs", name="tiny", version=0, log_graph=True)
        trainer = pl.Trainer(
            max_epochs=2,
            logger=logger,
            accelerator="cpu",
            devices=1,
            log_every_n_steps=1,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(Tiny(), loader, loader)
        logger.log_hyperparams({"lr": 0.05, "hidden": 3}, {"hp_metric": float(trainer.callback_metrics["val_loss"])})
        logger.finalize("success")

    compare(tmp_path, monkeypatch, job)


def test_transformers_trainer(tmp_path, monkeypatch):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", "logs")  # else a directory named by date and host

    def job():
        transformers.set_seed(0)
        config = transformers.BertConfig(
            vocab_size=16,
            hidden_size=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=8,
            max_position_embeddings=8,
            num_labels=2,
        )
        model = transformers.BertForSequenceClassification(config)
        generator = torch.Generator().manual_seed(0)
        data = [
            {"input_ids": torch.randint(0, 16, (6,), generator=generator), "labels": torch.tensor(i % 2)}
            for i in range(16)
        ]
        args = transformers.TrainingArguments(
            output_dir="out",
            report_to=["tensorboard"],
            logging_steps=1,
            max_steps=4,
            per_device_train_batch_size=4,
            save_strategy="no",
            use_cpu=True,
            seed=0,
            disable_tqdm=True,
        )
        transformers.Trainer(model=model, args=args, train_dataset=data).train()

    compare(tmp_path, monkeypatch, job, timing=r"runtime|per_second|flos")


def test_accelerate_tracker(tmp_path, monkeypatch):
    accelerate = pytest.importorskip("accelerate")

    def job():
        accelerator = accelerate.Accelerator(log_with="tensorboard", project_dir="logs", cpu=True)
        accelerator.init_trackers("tiny", config={"lr": 0.1, "epochs": 2, "name": "run"})
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loader = torch.utils.data.DataLoader(tiny_data(), batch_size=8)
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
        step = 0
        for _ in range(2):
            for x, y in loader:
                loss = torch.nn.functional.mse_loss(model(x), y)
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
                accelerator.log({"loss": loss.item(), "parts": {"a": 1.0, "b": loss.item()}}, step=step)
                step += 1
        accelerator.log({"note": "finished"}, step=step)
        accelerator.end_training()

    compare(tmp_path, monkeypatch, job)


@pytest.mark.parametrize("baseline", ["torch", "tensorboardX"])
def test_pytorch_ignite(tmp_path, monkeypatch, baseline):
    pytest.importorskip("ignite")
    if baseline == "tensorboardX":
        pytest.importorskip("tensorboardX")
    else:  # ignite prefers tensorboardX: hide it, so that it takes torch's writer
        monkeypatch.setitem(sys.modules, "tensorboardX", None)
    from ignite.engine import Events, create_supervised_trainer
    from ignite.handlers.tensorboard_logger import (
        GradsScalarHandler,
        OutputHandler,
        TensorboardLogger,
        WeightsHistHandler,
    )

    def job():
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        trainer = create_supervised_trainer(model, optimizer, torch.nn.functional.mse_loss)
        logger = TensorboardLogger(log_dir="logs")
        every_iteration = Events.ITERATION_COMPLETED
        logger.attach(trainer, OutputHandler("training", output_transform=lambda loss: {"loss": loss}), every_iteration)
        logger.attach(trainer, GradsScalarHandler(model), every_iteration)
        logger.attach(trainer, WeightsHistHandler(model), Events.EPOCH_COMPLETED)
        logger.attach_opt_params_handler(trainer, Events.ITERATION_STARTED, optimizer)
        trainer.run(torch.utils.data.DataLoader(tiny_data(), batch_size=8), max_epochs=2)
        logger.close()

    compare(tmp_path, monkeypatch, job)


def test_stable_baselines3(tmp_path, monkeypatch):
    sb3 = pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import HParam

    class LogHParams(BaseCallback):
        def _on_training_start(self) -> None:
            self.logger.record("hparams", HParam({"n_steps": 32, "algo": "PPO"}, {"rollout/ep_len_mean": 0}))

        def _on_step(self) -> bool:
            return True

    def job():
        model = sb3.PPO(
            "MlpPolicy",
            "CartPole-v1",
            n_steps=32,
            batch_size=16,
            n_epochs=1,
            seed=0,
            device="cpu",
            tensorboard_log="logs",
            policy_kwargs={"net_arch": [8]},
        )
        model.learn(total_timesteps=64, tb_log_name="ppo", callback=LogHParams())

    compare(tmp_path, monkeypatch, job, timing=r"^time/")
