"""Data modules and the sources they read (conf/data).

- ``module``: :class:`~trainlab.data.module.SplitDataModule`, the base of every family's data module
  (shared settings checked, seeded loaders, scaling statistics kept in the checkpoint, columns a scaling
  flattens in float32 refused)
- ``sampling``: the training order drawn from (seed, epoch), shared by every family's loaders
- ``shared_memory``: a worker's batch moved into shared memory by its collate function, and the one line
  for workers that ran out of it (a container's small ``/dev/shm``)
- ``files``: table files (CSV, Parquet, NPY, workbooks) read and checked one way for every family
- ``csv_files``: a CSV file for ``files``: its separator, decimal mark, encoding, preamble, padding and blank
  rows found, its progress said
- ``csv_writing``: the CSVs predict.py and evaluate.py write of a user's file, with its separator and decimal mark
- ``workbooks``: a spreadsheet workbook's sheet (.xlsx, .xls, .ods) for ``files``: its table found below title
  rows, date cells as dates; ``sheet_advice``: the sheet that holds the columns a refusal names
- ``headers``: whether a table's first row names its columns or is data (a file without a header), for ``files``
  and ``workbooks``
- ``astro_tables``: the astronomy archives' tables (ECSV, VOTable, FITS) for ``files``, nulls and units kept
- ``memory``: whether a table file fits in the memory left, said before it is read
- ``missing_codes``: numbers written for "no value" (-999, 99.99, 1e30, inf) far outside a column's values read as
  missing values, one rule for a series file's and a catalogue's columns, and the values no column may hold refused
- ``rounding``: when a spread is no more than float64 rounding of its values (a constant column or series)
- ``categories``: input columns of categories, one 0/1 input per category of the training rows, kept in checkpoints
- ``timeseries/``, ``graph/``, ``image/``: one package per family, its sources and its data module
"""
