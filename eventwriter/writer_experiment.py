"""SummaryWriter methods for PR curves, hyperparameters and custom scalar dashboards."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from eventwriter import summary as builders
from eventwriter.convert import describe, to_float, to_step
from eventwriter.plugins.custom_scalars import CONFIG_TAG
from eventwriter.sinks import resolves_inside
from eventwriter.writer_core import WriterCore

__all__ = ["ExperimentMethods"]


def _hparams_run_dir(log_dir: str, run_name: Any) -> str:
    """torch's ``{log_dir}/{run_name}``, refused if it leaves ``log_dir``."""
    if not isinstance(run_name, str):
        raise TypeError(f"run_name must be a str, got {describe(run_name)}")
    path = os.path.join(log_dir, run_name)
    if not resolves_inside(log_dir, path, allow_base=True):
        raise ValueError(
            f"run_name {run_name!r} would place the hparams run at {path!r}, outside the log dir {log_dir!r}"
        )
    return path


class ExperimentMethods(WriterCore):
    """The ``add_*`` methods for experiment-level data; mixed into SummaryWriter."""

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: Any = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a precision-recall curve of ``predictions`` in [0, 1] against 0/1 ``labels``.

        ``num_thresholds`` may exceed torch's cap of 127.
        """
        summary = builders.pr_curve(tag, labels, predictions, num_thresholds, weights)
        self._write(summary, tag, global_step, walltime)

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: Any = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: Any = None,
    ) -> None:
        """Log a PR curve given as counts, precision and recall, ``num_thresholds`` points each."""
        summary = builders.pr_curve_raw(
            tag,
            true_positive_counts,
            false_positive_counts,
            true_negative_counts,
            false_negative_counts,
            precision,
            recall,
            num_thresholds,
            weights,
        )
        self._write(summary, tag, global_step, walltime)

    def add_hparams(
        self,
        hparam_dict: Mapping[str, Any],
        metric_dict: Mapping[str, Any],
        hparam_domain_discrete: Mapping[str, Sequence[Any]] | None = None,
        run_name: str | None = None,
        global_step: Any = None,
        *,
        same_run: bool = False,
    ) -> None:
        """Log one hyperparameter session and its metrics for TensorBoard's HParams tab.

        By default, as torch does, the session goes into a child run
        ``{log_dir}/{run_name}`` (``run_name`` defaults to the current time), with the
        metrics as scalars there. With ``same_run=True`` it goes into this writer's own
        run instead, next to the scalars already logged, and ``run_name`` is not used.

        Args:
            hparam_dict: name -> bool, str, int, float, one-element tensor, or None (skipped).
            metric_dict: metric tag -> value, logged as scalars at ``global_step``.
            hparam_domain_discrete: name -> every value that hyperparameter can take.

        Raises:
            TypeError, ValueError: bad values, or a ``run_name`` that would leave the log dir.
        """
        experiment, start, end = builders.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        metrics = {name: to_float(name, value) for name, value in metric_dict.items()}
        step = to_step("add_hparams", global_step)
        if same_run:
            writer: WriterCore = self
        else:
            path = _hparams_run_dir(self._get_file_writer().get_logdir(), run_name or str(time.time()))
            writer = WriterCore(log_dir=path)
        try:
            for summary, tag in ((experiment, "experiment"), (start, "session_start_info"), (end, "session_end_info")):
                writer._write(summary, tag, step, None)
            for name, value in metrics.items():
                writer.add_scalar(name, value, step)
        finally:
            if writer is not self:
                writer.close()

    def add_custom_scalars(self, layout: Mapping[str, Mapping[str, Any]]) -> None:
        """Set the Custom Scalars dashboard: ``{category: {title: ["Multiline" or "Margin", tags]}}``.

        Multiline charts take tag regular expressions; margin charts three tags (value,
        lower, upper).
        """
        self._write(builders.custom_scalars(layout), CONFIG_TAG, None, None)

    def add_custom_scalars_multilinechart(
        self, tags: Sequence[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """Set a dashboard of one multiline chart of ``tags``."""
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(
        self, tags: Sequence[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """Set a dashboard of one margin chart of three tags: value, lower, upper."""
        self.add_custom_scalars({category: {title: ["Margin", tags]}})
