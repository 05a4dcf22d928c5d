"""LightningModules (one per task) and the plain nets they train (conf/model).

- ``task``: :class:`TaskModule`, the base of every family's module (net, optimizer wiring, steps)
- ``timeseries``, ``graph``, ``image``: the family task modules (loss, metrics, ``_shared_step``)
- ``optim``: optimizer and LR-scheduler wiring; ``step_logging``: logging without a host read per step
- ``window_scaling``: per-window scaling of the series' targets; ``features_only``: the graph
  family's features-only baseline
- ``nets/``: the plain ``nn.Module`` networks
"""
