"""Time-series family (conf/data: synthetic, elnino, file, packaged).

- ``module``: :class:`TimeSeriesDataModule` (train-only scaling, windows, the baselines on them);
  ``saved_state``: what its checkpoints hold of the data, and how a saved run's data are restored
- ``splits``: the chronological split of each series; ``fits``: whether the windows fit its rows;
  ``seasons``: the season length in use
- ``windows``: sliding windows as views over one array; ``gaps``: the missing-value policy
- ``named_twice``: a feature column named as a target (a file of targets of its own): an input once, or refused
- ``ranges``: the warnings a series' values give when it loads (dominating values, values beyond the
  training range, zero or constant targets), and the refusal of values that flatten the rest of their column
- ``baselines``: last value, seasonal naive and ETS forecasts on the model's windows (``window_baselines``:
  the data module's side, series by series, cached per split); ``ets``: the
  ETS fit itself (light to import: worker processes fit many series)
- ``table``: :class:`SeriesTable`, what every source returns, and how messages name its rows
- the sources: ``sources`` (a user's files; ``file_settings``: their settings checked), ``synthetic`` (the
  seeded default), ``packaged`` (real series shipped inside installed packages, El Niño among them)
- a file's time column and layout: ``times`` (reading and sorting), ``grids`` (its regular step), ``dates`` (text
  and numbers read as dates; ``date_columns``: dates beside the time column, a saved index), ``steps`` (a fixed step
  in words and the season it implies), ``zones`` (local clock times), ``layouts`` (wide tables, dates in columns),
  ``series`` (several series in one file; ``file_step``: their step, the file's), ``regular`` (the series of such a
  file already on a fixed step, sorted in one pass), ``values`` (columns as numbers; ``units``: numbers written with
  their unit; ``thousands``: grouped in thousands);
  its input columns of categories are :mod:`trainlab.data.categories`'
"""
