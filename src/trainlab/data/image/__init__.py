"""Image family: sky tiles with anomaly masks (conf/data: sky, sky_folder).

- ``module``: :class:`SkyDataModule` (quality checks, split by sky region, normalisation, augmentation)
- ``sources``: :class:`SkyTiles` and the sources (the Hubble image, your own folder)
- ``files``: image files (FITS, NPY, PNG, TIFF) and masks, read one way for every source
- ``mask_names``: masks told from their images by name (beside them, a word around the name, another case)
- ``anomalies``: the anomalies injected into tiles
"""
