"""Hyperparameter search with Optuna (``python train.py -m hparams_search=optuna``).

- ``plan``: ``hydra.sweeper`` checked into one SweepPlan (sampler, slots, threads and GPUs per slot)
- ``gpu_slots``: which GPU each slot's trials train on (i mod k), in one precision on GPUs of different models
- ``checks``: the checks of ``hydra.sweeper`` that need no study (objectives, enqueue, keys that act together)
- ``sweep``: the sweeper's work (study, slots, trials' fate, faults); the Hydra plugin in
  src/hydra_plugins/trainlab_optuna_sweeper only holds its config and hands over to it
- ``handover``: what a trial's job receives (one TrialHandover: study, trial id, pruner); ``outcome``: what it
  gives back (objective values, the exception of a failed job)
- ``trial``: the job side: the callbacks a run gets for its trial (``optuna_trial``) and how it fails
- ``pruning``: the Lightning callback that reports at every validation check and stops a pruned run
- ``space``: Hydra sweep grammar -> Optuna distributions; ``entry_words``: a search_space entry's type and keys
  checked, with a did-you-mean
- ``shared``: several processes on one study (storage, owners, admission)
- ``storage_driver``: whether SQLAlchemy can open a storage URL here (its dialect, its driver's package)
- ``warmstart``: configurations enqueued first, studies started from an earlier one's trials
- ``variants``: the configs a sweep's trials can get, and the keys each must have
- ``stages``: staged search (one command, or stage 2 from an earlier sweep)
- ``sweep_folder``: what a sweep folder holds (its files, the study it belongs to, its trials' run folders)
- ``results``: trials.csv, trials.jsonl, optimization_results.yaml/.json and the progress lines
- ``analyze``, ``advice``, ``front``: the report, its recommendations, the Pareto front of two objectives;
  ``pruned``: what the pruner did (trials pruned, epochs saved) and its recommendations
- ``importance``: which searched parameters matter (fANOVA), and whether there are trials enough to say
- ``refine``: retrain the best configuration longer; ``tool_args``: the command lines of the sweep tools that make
  runs (make analyze / refine / stage2), a bad argument named by its make variable
"""
