"""Errors satlearn raises for bad input: each carries one line that names what was wrong."""


class SatlearnError(Exception):
    """Base class: the CLI prints the message alone (no traceback) and exits with status 2."""


class ConfigError(SatlearnError, ValueError):
    """A configuration file, key or value is invalid."""


class DataError(SatlearnError, ValueError):
    """A data source is missing, unreadable or inconsistent."""


class TrainingError(SatlearnError, RuntimeError):
    """Training cannot continue (non-finite loss, resume mismatch, unwritable run directory)."""
