"""Notes under ``paths.log_dir`` that name a run folder to other processes: rank 0 of an srun step to the step's
other ranks (``.srun_steps``, run/srun_step.py), a plain run in a SLURM job to the attempts a requeue starts
(``.slurm_jobs``, run/preemption.py). Many runs share such a folder: each writes its note whole and removes it at
its run's end, with the folder once empty."""

from __future__ import annotations

from pathlib import Path


def write_note(note: Path, text: str, held: list[Path]) -> None:
    """Write ``note`` whole (a reader never sees half a folder's name) and add it to ``held``, the notes this
    process removes at its run's end (:func:`remove_notes`); another run's end may remove the emptied folder
    between its ``mkdir`` and the write, so that is tried again."""
    from trainlab.run.durable import write_atomic

    for attempt in range(3):
        note.parent.mkdir(parents=True, exist_ok=True)
        try:
            write_atomic(note, text)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
    held.append(note)


def remove_notes(held: list[Path]) -> None:
    """Remove the notes in ``held`` (emptying it), each with its folder once no other run's note is left there."""
    while held:
        note = held.pop()
        note.unlink(missing_ok=True)
        try:
            note.parent.rmdir()
        except OSError:  # another run's note is still there (ENOTEMPTY), or it is gone already
            pass
