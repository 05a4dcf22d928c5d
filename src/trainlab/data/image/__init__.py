"""Image family: sky tiles, injected anomalies, the data module (conf/data: sky, sky_folder)."""
