"""The net checked on one real batch before training: a user's own net (README: Your own configs and code)
that takes other inputs, returns another shape, a tuple, float64 or NaN, or keeps its layers where PyTorch
does not see them, is named in one line before anything trains, where it failed at the loss, in a metric
or in the optimizer (``optimizer got an empty parameter list``), or trained without a word (an extra
output channel of an image net, float64 outputs).

The task module says what its net is called with and what it must return (:class:`NetCall`, from
``net_call(batch)``); :func:`check_net` calls the net once on two samples of the first validation batch
(the first training batch without validation) with the random generators kept, so the run trains as it
would without the check. The call also sizes lazy layers (``nn.LazyLinear``) before the optimizer
takes the parameters.

An error raised inside a user's own ``forward`` (a class outside trainlab) is reported in one line
naming its file and line: that is where the fix goes, and the rest of the traceback would be
Lightning's and trainlab's frames. Our own nets' errors keep their traceback (a bug of ours).
"""

from __future__ import annotations

import inspect
import random
import traceback
from collections.abc import Iterable
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from trainlab.config.errors import UserError
from trainlab.models.task import NetCall, net_name, output_fits

# what the task module's loss and metrics compute in; float64 made the whole step run in float64 unasked
OUTPUT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _own(net: nn.Module) -> bool:
    """A class of the user's (their traceback is theirs to read), not one of trainlab's nets."""
    return not type(net).__module__.startswith("trainlab.")


def _unregistered(net: nn.Module) -> Optional[str]:
    """``self.<name>`` of a (sub)module holding modules in a plain list, tuple or dict, which PyTorch
    neither trains, moves nor saves; None when there is none."""
    for prefix, module in net.named_modules():
        for name, value in vars(module).items():
            if name.startswith("_"):
                continue
            items: Iterable[Any] = value.values() if isinstance(value, dict) else value \
                if isinstance(value, (list, tuple)) else ()
            if any(isinstance(item, nn.Module) for item in items):
                kind = type(value).__name__
                holder = f"{type(module).__name__} ({prefix})" if prefix else type(module).__name__
                return (f"{holder} keeps its layers in self.{name}, a plain {kind}, where PyTorch does not see them: "
                        f"they would not be trained, moved to the device or saved in checkpoints; hold them in "
                        f"{'nn.ModuleDict' if kind == 'dict' else 'nn.ModuleList'}(...) instead")
    return None


def _described(inputs: dict[str, torch.Tensor]) -> str:
    return ", ".join(f"{name} {tuple(value.shape)}" for name, value in inputs.items())


def _where(exc: BaseException) -> str:
    """``file, line N, in function`` of the innermost frame outside torch and trainlab (the user's code)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "/torch/" not in f.filename and "/trainlab/" not in f.filename]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (at {frame.filename}, line {frame.lineno}, in {frame.name})"


def _call(module: Any, net: nn.Module, call: NetCall) -> Any:
    forward = net.forward
    wanted = f"net({', '.join(call.inputs)}) with {_described(call.inputs)}"
    try:
        inspect.signature(forward).bind(*call.inputs.values())
    except TypeError as exc:
        raise UserError(f"{net_name(net)}: its forward{inspect.signature(forward)} does not take what "
                        f"{type(module).__name__} calls it with, {wanted} ({exc}); give forward these inputs") from None
    except ValueError:  # no signature to read (a builtin): let the call tell
        pass
    try:
        # compiled (model.compile=true): the plain forward, not a compilation for one CPU batch
        return forward(*call.inputs.values()) if module.hparams.get("compile") else net(*call.inputs.values())
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - a user's net: one line naming their file; ours re-raised
        if not _own(net):
            raise
        raise UserError(f"{net_name(net)} failed on the first batch, before training: {type(exc).__name__}: "
                        f"{str(exc).strip()}{_where(exc)}; it was called as {wanted}: the error is in that net")


def _output_problem(out: Any, call: NetCall) -> Optional[str]:
    if not isinstance(out, torch.Tensor):
        kind = type(out).__name__
        return (f"returned a {kind}, where one tensor {call.meaning} is needed; "
                f"return that tensor alone{' (the first of the tuple?)' if isinstance(out, tuple) else ''}")
    shape = tuple(out.shape)
    if not output_fits(shape, call.shape, call.flat):
        return f"returned shape {shape}, where {call.meaning} is needed; {call.fix}"
    if out.dtype not in OUTPUT_DTYPES:
        if out.dtype == torch.float64:
            return ("returned torch.float64 (the whole step would run in float64), where float32 is needed "
                    "(hardware.precision sets the precision); drop the .double() / dtype=torch.float64 in the net")
        return (f"returned {out.dtype}, where float32 is needed (no gradient passes through {out.dtype}); "
                f"return the layers' output before it is rounded or cast")
    if not bool(torch.isfinite(out.detach()).all()):
        bad = "NaN" if bool(torch.isnan(out.detach()).any()) else "an infinite value"
        return (f"returned {bad} on the first batch, before any training (no learning rate did this); "
                f"look for a division by zero, a log or sqrt of a negative number, or an uninitialised tensor "
                f"(torch.empty) in the net")
    if not out.requires_grad:
        return ("returned values that do not depend on its trainable parameters (no gradient can reach them: "
                ".detach(), .item(), .numpy(), an int cast or torch.no_grad() in forward?); "
                "compute the output from the layers' results")
    return None


def first_batch(datamodule: Any) -> Any:
    """The first validation batch (the first training batch without validation), the random generators kept."""
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        for make in ("val_dataloader", "train_dataloader"):
            try:
                loader = getattr(datamodule, make)()
            except (NotImplementedError, AttributeError):  # a data module without validation
                continue
            for batch in loader if loader is not None else ():
                return batch
        return None
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def check_net(module: Any, datamodule: Any) -> None:
    """Refuse a net that cannot train in ``module`` (a TaskModule with ``net_call``), in one line before
    anything trains; see the module's docstring."""
    net = getattr(module, "net", None)
    if not isinstance(net, nn.Module):
        return
    problem = _unregistered(net)
    if problem:
        raise UserError(f"{net_name(net)}: {problem}")
    batch = first_batch(datamodule)
    if batch is None:
        return
    try:
        call = module.net_call(batch)
    except NotImplementedError:  # a task module of the user's own, straight from TaskModule: its own business
        return
    was_training = net.training
    net.eval()  # dropout off and no batch-norm statistics taken from this batch
    try:
        with torch.enable_grad():
            out = _call(module, net, call)
            trainable = [p for p in net.parameters() if p.requires_grad]
            if not trainable:
                raise UserError(f"{net_name(net)} has no trainable parameters, so nothing would train; make its "
                                "layers attributes of the net (self.layer = nn.Linear(...)) or hold them in "
                                "nn.ModuleList, and leave requires_grad on")
            problem = _output_problem(out, call)
    finally:
        net.train(was_training)
    if problem:
        raise UserError(f"{net_name(net)} {problem}")
