"""trainlab: Hydra-composed PyTorch Lightning experiments.

``trainlab.train([...overrides])``, ``trainlab.evaluate(run)`` and ``trainlab.predict(run, horizon)`` make the
command line's runs from Python
(:mod:`trainlab.api`).

Importing the package is cheap on purpose: nothing here imports torch or lightning (nor the API's
module, until one of its names is first used), so that `python train.py --cfg job` and `--help` answer
in well under a second.
"""

__version__ = "0.1.0"

_API = ("train", "evaluate", "predict", "TrainResult", "EvalResult", "PredictResult")  # trainlab.api's, imported when first used
__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    if name in _API:
        from trainlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'trainlab' has no attribute {name!r}")
