"""trainlab: Hydra-composed PyTorch Lightning experiments.

Importing the package is cheap on purpose: nothing here imports torch or lightning, so that
`python train.py --cfg job` and `--help` answer in well under a second.
"""

__version__ = "0.1.0"
