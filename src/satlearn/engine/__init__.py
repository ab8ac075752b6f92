"""The training engine: loop, evaluation, checkpoints and run outputs."""

from satlearn.engine.trainer import RunResult, evaluate, evaluate_run, fit, load_run, prepare_data

__all__ = ["RunResult", "evaluate", "evaluate_run", "fit", "load_run", "prepare_data"]
