"""What every family's LightningModule shares: the net, the optimizer wiring, the loss means and the
steps. A family's task module (``timeseries.py``, ``graph.py``, ``image.py``) adds its loss, its
metrics and ``_shared_step(batch, stage)``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Optional

import lightning.pytorch as pl
import torch
from torch import nn

from trainlab.config.errors import UserError
from trainlab.metrics.aggregation import WeightedMean
from trainlab.models.optim import configure_optimizers
from trainlab.models.step_logging import log_eval_epoch


def _signature_kept(step: Callable) -> Callable:
    """Store ``step``'s signature on it: Lightning asks on every batch whether a step takes ``batch_idx``
    (``inspect.getfullargspec``, ~15 µs from the code object each time; a stored signature is read as is)."""
    step.__signature__ = inspect.signature(step)
    return step


@dataclass(frozen=True)
class NetCall:
    """How a task module calls its net on a batch, and what it needs back.

    Args:
        inputs: the net's positional inputs by name, in call order (``{"x": ...}``).
        shape: the output's shape.
        meaning: that shape in words.
        fix: what to do when the shape is another, with where its sizes come from.
        flat: any shape with ``shape[0]`` first and as many values per sample (the module reshapes).
    """

    inputs: dict[str, torch.Tensor]
    shape: tuple[int, ...]
    meaning: str
    fix: str
    flat: bool = False


def output_fits(shape: tuple[int, ...], expected: tuple[int, ...], flat: bool) -> bool:
    """Whether a net's output of ``shape`` is what its task module reads, ``expected`` (``flat``: any shape
    with as many values per sample, which the module reshapes). One rule for the check before training
    (trainlab.run.net_checks) and every forward (:meth:`TaskModule.checked_output`)."""
    return shape == expected or (flat and len(shape) >= 1 and shape[0] == expected[0]
                                 and math.prod(shape[1:]) == math.prod(expected[1:]))


def net_name(net: nn.Module) -> str:
    """The net as the setting that chose it: ``model.net._target_=<module>.<class>``."""
    return f"model.net._target_={type(net).__module__}.{type(net).__qualname__}"


class TaskModule(pl.LightningModule):
    """Base of the task modules (Lightning's "system": net + loss + metrics + optimizer wiring).

    Args:
        net: the plain network (trainlab.models.nets).
        optimizer: partial optimizer, completed with the parameters in configure_optimizers (None
            when a module is rebuilt for evaluation).
        scheduler: partial LR scheduler or None (trainlab.models.optim completes it).
        compile: compile the net's forward with torch.compile (``nn.Module.compile``: the weights and
            checkpoint keys stay those of the plain net). Pays off on GPUs and long runs; the first
            steps wait for compilation.

    A subclass calls ``save_hyperparameters(ignore=["net", "optimizer", "scheduler"], logger=False)``
    in its own ``__init__`` (the partials would need pickled code, which ``torch.load(weights_only=True)``
    refuses; train.py logs the whole config instead), keeps its ``monitor`` there (the metric
    ReduceLROnPlateau watches), implements ``_shared_step`` and :meth:`eval_metrics`.
    """

    family = ""  # trainlab.config.families: set by each family's module
    # arguments added after checkpoints were written: the value one whose hyperparameters lack the key was
    # trained with (trainlab.run.trained rebuilds it so, where its run's config does not give the key)
    ADDED_LATER: dict[str, Any] = {}
    SHOWN: tuple[str, ...] = ()  # metrics (without stage prefix) also put on the progress bar

    def __init__(self, net: nn.Module, optimizer: Optional[Callable[..., torch.optim.Optimizer]],
                 scheduler: Optional[Callable[..., Any]], compile: bool):
        super().__init__()
        self.net = net
        if compile:
            self.net.compile()
        self.make_optimizer, self.make_scheduler = optimizer, scheduler
        # the net's constructor arguments, defaults included, which its checkpoints record (the pipeline sets them:
        # trainlab.run.trained.net_arguments); a resume or rebuild takes them where a default changed since
        self.net_arguments: dict[str, Any] = {}
        self.train_loss = WeightedMean()  # no host read per step (see WeightedMean)
        self.val_loss, self.test_loss = WeightedMean(), WeightedMean()

    @classmethod
    def trained_settings(cls, trained: dict[str, Any], given: Collection[str]) -> dict[str, Any]:
        """The arguments a checkpoint's module was built with (``trained``: its hyperparameters) that ``given``
        (the keys its run's config writes, and the data's) leaves to the defaults, which may have changed
        since: the value it stores, or ``ADDED_LATER``'s for an argument it predates (trainlab.run.trained)."""
        found = {}
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if name in given or name in ("self", "net", "optimizer", "scheduler") or parameter.default is parameter.empty:
                continue
            if name in trained:
                found[name] = trained[name]
            elif name in cls.ADDED_LATER:
                found[name] = cls.ADDED_LATER[name]
        return found

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from trainlab.run.trained import NET_ARGUMENTS

        if self.net_arguments:
            checkpoint[NET_ARGUMENTS] = dict(self.net_arguments)

    def __setattr__(self, name: str, value: Any) -> None:
        """Lightning names the hook it is in on the module before and after every hook it calls (~50
        times a training step); ``nn.Module.__setattr__`` checks each such string against parameters,
        buffers and submodules (~1.3 us, ten times a plain attribute). That name is never one of them."""
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def checked_output(self, out: Any, expected: tuple[int, ...], layout: str, flat: bool = False) -> torch.Tensor:
        """The net's output, if it has the shape this task module reads (``layout`` names it; ``flat`` as in
        :class:`NetCall`); else one line naming ``model.net``, in the words of the check before training
        (trainlab.run.net_checks), which catches it first in train.py: this one holds for every batch,
        evaluate.py, predict.py and a module called from Python. A comparison of sizes the host knows:
        nothing is read from the device."""
        if isinstance(out, torch.Tensor) and output_fits(tuple(out.shape), tuple(expected), flat):
            return out
        got = f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
        raise UserError(f"{net_name(self.net)} returned {got}, where {layout} = {tuple(expected)} is needed for "
                        f"this batch of the {self.family} task module; make the net return that shape (its sizes "
                        "from the data arrive as its output_size / out_channels)")

    def net_call(self, batch: Any) -> NetCall:
        """How the net is called on ``batch`` (at most two samples of it) and what it must return; the
        check of a net before training (trainlab.run.net_checks) reads it."""
        raise NotImplementedError

    def eval_metrics(self, stage: str) -> tuple[Any, ...]:
        """The metric collections of ``stage`` ("val" or "test"), logged at the epoch's end."""
        raise NotImplementedError

    def _shared_step(self, batch: Any, stage: str) -> Optional[torch.Tensor]:
        raise NotImplementedError

    @_signature_kept
    def training_step(self, batch: Any, batch_idx: int) -> Optional[torch.Tensor]:
        return self._shared_step(batch, "train")

    def on_train_epoch_end(self) -> None:
        self.log("train/loss_epoch", self.train_loss, prog_bar=True)  # computed and reset by Lightning

    @_signature_kept
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        log_eval_epoch(self, "val", *self.eval_metrics("val"), shown=self.SHOWN)
        self._log_curves("val", due=self.figures_due() and not self.trainer.sanity_checking)

    @_signature_kept
    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def on_test_epoch_end(self) -> None:
        log_eval_epoch(self, "test", *self.eval_metrics("test"), shown=self.SHOWN)
        self._log_curves("test", due=True)

    def figures_due(self) -> bool:
        """Whether this validation epoch draws its figures (every epoch unless a module says otherwise)."""
        return True

    def _log_curves(self, stage: str, due: bool) -> None:
        """Confusion matrix, ROC and PR figures (``<stage>_curves``, trainlab.metrics.classification
        CurveFigures) to the loggers when due; their state is reset every epoch either way."""
        curves = getattr(self, f"{stage}_curves", None)
        if curves is None:
            return
        if due:
            curves.log_figures(self.trainer, stage)
        curves.reset()

    def configure_optimizers(self) -> Any:
        return configure_optimizers(self, self.make_optimizer, self.make_scheduler, self.hparams.monitor)
