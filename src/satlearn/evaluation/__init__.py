"""Evaluation measures that do not depend on how a model was trained."""
