"""hydra-submitit-launcher's own launchers (``hydra/launcher=submitit_local``, ``submitit_slurm``): a job that ends
without a result, said in one line.

Those launchers read each job's result with submitit's ``job.results()``, which raises ``UncompletedJobError``
when a job wrote none: its run refused its settings (``error: ...`` and exit 2, as a run without a launcher
does), was killed (out of memory, ``scancel``), or hit its time limit. The command printed submitit's
exception as a traceback of the launcher's frames, the job's own words ten lines below it. This module reads
the job, its state, the last line of its error stream and its log out of that exception's text (submitit's
format, ``submitit.core.core.Job._get_outcome_and_result``); ``hydra/launcher=slurm`` watches its jobs
itself (:mod:`trainlab.run.slurm`). Light on purpose: no submitit import.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

SUBMITITS_OWN = ("srun:", "slurmstepd", "submitit ")  # what srun, slurmstepd and submitit add to a job's stderr
RULE = "-" * 40  # what submitit puts between its words and the job's error stream


def lost_job_line(exc: BaseException) -> Optional[tuple[str, int]]:
    """(one line, exit status) for submitit's ``UncompletedJobError`` about a job without a result: 2 when the
    job's last words are a refusal (``error: ...``, the run's own line), else 1; None for any other error."""
    if type(exc).__name__ != "UncompletedJobError" or not type(exc).__module__.startswith("submitit"):
        return None
    text = str(exc)
    found = re.match(r"Job (\S+) \(task: (\d+)\) with path (\S+)", text)
    if found is None:  # another of submitit's messages: its first line is still better than its traceback
        return f"a submitit job failed: {text.strip().splitlines()[0] if text.strip() else 'no message'}", 1
    job_id, task, result = found.groups()
    state = re.search(r"\(state: ([^)]*)\)", text)
    stream = text.split(RULE, 1)[1] if RULE in text else ""
    said = [line.strip() for line in stream.splitlines() if line.strip() and not line.startswith(SUBMITITS_OWN)]
    log = Path(result).parent / f"{job_id}_{task}_log.err"
    ended = f"job {job_id} ended without a result (state: {state.group(1) if state else 'unknown'})"
    if said and said[-1].startswith("error: "):  # the run's own refusal
        return f"{ended}: {said[-1].removeprefix('error: ')}; its log is {log}", 2
    if not said:
        return f"{ended}, and wrote nothing on its error stream (killed?); its log is {log}", 1
    return f"{ended}; the last line of its log {log}: {said[-1]}", 1
