"""Metrics shared by the task modules and evaluation (torchmetrics-based).

- ``regression``: forecast metrics (RMSE, MAPE, sMAPE, MASE, R2) exact far from zero
- ``classification``: metrics and curve figures of the graph and image families
- ``undefined``: scores undefined on the data (AUROC of one class, IoU of 0 / 0) computed as NaN and said once
- ``aggregation``: a running mean without host reads; ``names``: what the short metric names stand for
"""
