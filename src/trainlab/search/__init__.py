"""Hyperparameter search with Optuna (``python train.py -m hparams_search=optuna``).

- ``sweep``: the sweeper's work (study, slots, trials' fate, faults); the Hydra plugin in
  src/hydra_plugins/trainlab_optuna_sweeper only holds its config and hands over to it
- ``space``: Hydra sweep grammar -> Optuna distributions
- ``trial``: the job side: what a trial's run receives (``optuna_trial``) and how it fails
- ``pruning``: the Lightning callback that reports each epoch and stops a pruned run
- ``results``: trials.csv, optimization_results.yaml and the progress lines
"""
