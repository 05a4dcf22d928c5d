"""The effective batch of a run: samples per optimizer step, as the run's line and training_summary.json give it
(:class:`~trainlab.callbacks.records.RunRecords`), and the warning of a resume that goes on with another."""

from __future__ import annotations

import logging

import lightning.pytorch as pl

log = logging.getLogger(__name__)

# what an effective batch is made of: the settings a resume compares where the checkpoint's record predates
# step_samples (its effective_batch_size was data.batch_size x accumulation x processes in every family)
BATCH_SETTINGS = ("processes", "batch_size", "accumulate_grad_batches")


def effective_batch(trainer: pl.Trainer) -> dict[str, int]:
    """Samples per optimizer step: the samples of one step across processes (devices x nodes; the data module's
    ``step_samples``: data.batch_size on each, a star graph's training stars where it trains whole) x gradient
    accumulation. ``batch_size`` stays data.batch_size, the setting."""
    data = trainer.datamodule
    batch = int(getattr(data, "batch_size", 0) or 0)
    parts = {"batch_size": batch, "accumulate_grad_batches": int(trainer.accumulate_grad_batches),
             "processes": int(trainer.world_size)}
    step = getattr(data, "step_samples", None)
    parts["step_samples"] = int(step(parts["processes"])) if step is not None else batch * parts["processes"]
    parts["effective_batch_size"] = parts["step_samples"] * parts["accumulate_grad_batches"]
    return parts


def warn_other_batch(saved: dict[str, int], now: dict[str, int]) -> None:
    """One warning when a resume's optimizer steps average another number of samples than the checkpoint's
    run (``saved``: its :func:`effective_batch`; empty in checkpoints before it was kept): a run of 2
    processes resumed in one went on with half its effective batch, and batches in another order, without
    a word. The same effective batch from other settings is one information line naming them. The resume may be meant (fewer GPUs at hand); it does not end as the run never stopped would.
    A record from before ``step_samples`` is compared by its settings (a graph's figure was data.batch_size's)."""
    if not saved:
        return
    names = {"processes": "processes (trainer.devices x trainer.num_nodes)", "batch_size": "data.batch_size",
             "accumulate_grad_batches": "trainer.accumulate_grad_batches"}
    differ = [f"{names[k]} {saved[k]} -> {now[k]}" for k in names if k in saved and saved[k] != now.get(k)]
    if "step_samples" not in saved:
        if all(saved.get(k) == now.get(k) for k in BATCH_SETTINGS):
            return
    elif saved.get("effective_batch_size") == now.get("effective_batch_size"):
        # the same effective batch from other settings (data.batch_size=16 accumulated over 2 where the run took
        # 32): the optimizer sees as many samples a step, but the setting is still said, never left unsaid
        if differ:
            log.info("this resume goes on with %s: the checkpoint's run took %d samples per optimizer step and so "
                     "does this resume (what the optimizer sees per step is the same; the order of samples and the "
                     "BatchNorm statistics of each step differ)", "; ".join(differ), now["effective_batch_size"])
        return
    if saved.get("step_samples", now["step_samples"]) != now["step_samples"] and not differ:
        differ = [f"samples per training step {saved['step_samples']} -> {now['step_samples']}"]
    # an older record's figure counted data.batch_size where a step holds other samples (a graph trained whole)
    figures = (f"took {saved['effective_batch_size']} samples per optimizer step, this resume takes "
               f"{now['effective_batch_size']}" if "step_samples" in saved else "had other batch settings")
    log.warning("the checkpoint's run %s (%s): it goes on with another effective batch (and, with other processes, "
                "another order of batches), so it will not end as that run would have; resume with that run's "
                "settings for that", figures, "; ".join(differ))
