"""One run, from a composed config to its folder.

- ``jobs``: train.py's, evaluate.py's and predict.py's jobs, which the scripts and ``trainlab.api`` run
- ``pipeline``: the one pipeline every entry point, benchmark and test calls; ``restore``: a saved run built again
  through it, with its checkpoint's weights and data statistics (evaluate.py, predict.py)
- ``hardware``: the hardware profile applied to torch and checked against the machine; ``trainer_devices``: the
  accelerator, precision, devices, strategy and nodes the trainer gets, checked against it; ``cores``: the CPU
  cores this process may use (its affinity and its cgroup's CPU quota); ``gpus``: the run's GPUs as torch
  sees them (native bf16, memory, models); ``host_memory``: glibc's malloc keeping freed memory for the next step
- ``process``: what a run set for its whole process (torch's threads and flags, ...), given back when it ends
- ``trained``: what a checkpoint was trained with where its run's config left a key to a default (which may change)
- ``provenance``: what code a run ran (its git commit, a checkout that differed from it, package versions)
- ``folder``: the run folder's layout; ``checkpoint_path``: what a user typed as ``ckpt_path``, found and read;
  ``root``: the repository root; ``checkpoint_io``: checkpoints safe against a kill mid-save; ``console``: what a
  run prints, and ``train.log``
- ``preflight`` (before Hydra makes the folder; ``srun_step``: srun's tasks of one step in rank 0's folder;
  ``folder_notes``: the notes naming a run folder to other processes, an srun step's or a requeued job's) and
  ``checks`` (before the first step); ``net_checks``: the net on one real batch before training;
  ``resume_checks``: a resume against its checkpoint, before it trains; ``resume_settings``: each setting a
  resume changes from its run, said
- ``durable``: files that survive a hard kill, written atomically; a full disk as one line
- ``permissions``: what lets this user read or write a file it may not, by who owns it (every such refusal's advice)
- ``preemption``: a run stopped by a signal; ``profiling``: a cheap "no profiler" and hook dispatch
- ``repeatability``: what a run's seed repeats, said where it cannot promise bit for bit (a GPU run)
- ``spawned``: the logging and hardware set-up a rank started as a fresh interpreter (``ddp_spawn``) repeats
- ``ranks``: what the ranks of a multi-process run decide together (a stop on one is a stop on all)
- ``slurm``, ``slurm_request``, ``slurm_partition``: ``hydra/launcher=slurm`` (submitting; the request; what a partition allows)
- ``submitit_jobs``: hydra-submitit-launcher's own launchers, a job without a result in one line; ``job_errors``: a
  multirun job's own error from another process (joblib, submitit), its traceback kept in the job's log
"""
