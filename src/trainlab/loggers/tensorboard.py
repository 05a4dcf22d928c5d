"""Lightning's TensorBoard logger without a blocking flush per logging step.

Lightning calls a logger's ``save()`` after every ``log_metrics`` (every ``trainer.log_every_n_steps``
steps and at each epoch's end); TensorBoard's ``save()`` flushes the event writer and waits for its
writer thread to empty its queue onto the disk, then looks on the disk for ``hparams.yaml``. That
wait was ~1 % of a training epoch of the default LSTM on a CPU. The writer thread flushes by itself
every ``flush_secs`` (TensorBoard's own setting, passed to its ``SummaryWriter``); TensorBoard's page
reloads every 30 s. Here ``save()`` writes ``hparams.yaml`` once and flushes only when the last flush
is ``flush_secs`` old; the end of a run (``finalize``, also after a failure) flushes and closes as before.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional, Union

from lightning.pytorch.loggers import TensorBoardLogger as LightningTensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from trainlab.config.errors import UserError


class TensorBoardLogger(LightningTensorBoardLogger):
    """Lightning's TensorBoardLogger whose ``save()`` flushes at most every ``flush_secs`` seconds.

    Args:
        save_dir, name, version: Lightning's (trainlab.loggers.build_loggers sets ``version`` to the run's label).
        flush_secs: the longest time a logged value waits in memory before it is on the disk; above 0.
        **kwargs: Lightning's other TensorBoardLogger arguments (default_hp_metric, log_graph, ...).
    """

    def __init__(self, save_dir: str, name: Optional[str] = "lightning_logs", version: Optional[Union[int, str]] = None,
                 flush_secs: float = 10.0, **kwargs: Any):
        if not flush_secs > 0:  # 0 or less: TensorBoard's writer thread polls its queue without waiting, a whole core
            raise UserError(f"logger.tensorboard.flush_secs={flush_secs} must be above 0 (seconds between flushes; "
                            "the run's end flushes all the same); e.g. logger.tensorboard.flush_secs=10")
        super().__init__(save_dir, name=name, version=version, flush_secs=flush_secs, **kwargs)
        self.flush_secs = flush_secs
        self._flushed_at = -math.inf  # never: the first save (it writes hparams.yaml) is a full one

    @rank_zero_only
    def save(self) -> None:
        now = time.monotonic()
        if now - self._flushed_at < self.flush_secs:
            return
        self._flushed_at = now
        super().save()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self._flushed_at = -math.inf  # the full save again, as Lightning's finalize asks for it
        super().finalize(status)
