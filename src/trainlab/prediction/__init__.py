"""predict.py: a trained model on data that have no answers yet.

- ``run``: the job (``trainlab.run.jobs.predict``): the run's checkpoint and config, the data read as
  training read them, the forecast written into its own folder (forecast.csv, forecast.png).
- ``fit``: whether the data and the horizon fit the model (its step between times, its series, inputs
  it can be fed beyond the data's end).
- ``timeseries``: the forecast itself, from the end of each series, fed back past ``data.steps``.
- ``future``: ``future=<file>``, the values after the data's end of inputs nobody computes (drivers).
- ``calendar``: the times after a series' last row, on its own step and in its own zone.
- ``plots``: forecast.png, the last stretch of history and the forecast.
- ``image``: an image run's anomaly maps of a folder of sky images without masks.
- ``graph``: a graph run's classes of the stars of a catalogue (its labels, if any, not read).
"""
