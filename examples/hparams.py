"""Hyperparameters: each session with its settings and final metrics, for the HParams tab.

    python examples/hparams.py [LOGDIR]

By default (as in torch) every ``add_hparams`` call makes a child run of the writer's
run; with ``same_run=True`` the session is recorded in the writer's own run instead.
"""

from __future__ import annotations

import sys

from eventwriter import SummaryWriter

if __name__ == "__main__":
    with SummaryWriter(sys.argv[1] if len(sys.argv) > 1 else "runs/hparams") as writer:
        for trial, (lr, batch_size, augment) in enumerate([(0.1, 4, True), (0.01, 4, False), (0.001, 16, True)]):
            accuracy = 0.5 + 0.1 * trial + (0.05 if augment else 0)
            writer.add_hparams(
                {"lr": lr, "batch_size": batch_size, "augment": augment, "optimizer": "sgd"},
                {"hparam/accuracy": accuracy, "hparam/loss": 1 - accuracy},
                hparam_domain_discrete={"optimizer": ["sgd", "adam"]},
                run_name=f"trial-{trial}",
            )
        print(f"tensorboard --logdir {writer.get_logdir()}")
