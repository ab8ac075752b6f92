"""The training engine: loop, evaluation, checkpoints and run outputs."""

from satlearn.engine.trainer import (
    RunResult, build_method, build_optimizer, evaluate, evaluate_run, fit, load_run, make_loaders, prepare_data,
    resume_config, train_one_epoch,
)

__all__ = ["RunResult", "build_method", "build_optimizer", "evaluate", "evaluate_run", "fit", "load_run",
           "make_loaders", "prepare_data", "resume_config", "train_one_epoch"]
