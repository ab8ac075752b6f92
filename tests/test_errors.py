"""satlearn.errors: what its errors promise to code that catches them, and the functions that read other errors."""

import pickle

import pytest
import torch

from satlearn.errors import (ConfigError, ConfigTypeError, DataError, DataTypeError, DeviceUnavailable,
                             SatlearnError, TrainingInterrupted, first_line, out_of_memory)


def test_an_interrupted_run_is_a_keyboard_interrupt_that_pickles_with_where_it_stopped(tmp_path):
    with pytest.raises(KeyboardInterrupt):  # code that stops on Ctrl-C still does
        raise TrainingInterrupted(tmp_path, 3)
    again = pickle.loads(pickle.dumps(TrainingInterrupted(tmp_path, 3)))  # as from a worker process
    assert (again.run_dir, again.checkpoint_epoch) == (tmp_path, 3)
    assert str(again) == f"{tmp_path}: interrupted (checkpoint after epoch 3)"
    assert str(TrainingInterrupted(tmp_path, None)) == f"{tmp_path}: interrupted (no checkpoint)"


@pytest.mark.parametrize("error, satlearn_class", [(ConfigTypeError, ConfigError), (DataTypeError, DataError)])
def test_a_value_of_the_wrong_kind_is_caught_as_satlearns_error_and_as_a_type_error(error, satlearn_class):
    # the CLI prints a SatlearnError as one line; code written for Python's own error still catches it
    for caught in (satlearn_class, SatlearnError, TypeError):
        with pytest.raises(caught):
            raise error("labels must be integers")
    assert str(pickle.loads(pickle.dumps(error("labels must be integers")))) == "labels must be integers"


def test_a_device_this_machine_lacks_pickles_with_its_advice_apart():
    # it could not be unpickled (its advice a keyword alone): fit in a ProcessPoolExecutor of a config whose
    # run.device the machine lacks ended in BrokenProcessPool, no message, where a ConfigError had come back
    error = DeviceUnavailable("run.device='cuda' but CUDA is not available", advice="use run.device=auto or cpu")
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, ConfigError) and str(again) == str(error)
    assert (again.message, again.advice) == (error.message, error.advice)


def test_first_line_is_the_messages_first_non_blank_line_or_the_errors_type():
    assert first_line(ValueError("shapes differ\nfull trace follows")) == "shapes differ"
    assert first_line(RuntimeError("\n  shapes differ\nmore")) == "shapes differ"
    assert first_line(RuntimeError("")) == "RuntimeError"


@pytest.mark.parametrize("error, expected", [
    (MemoryError(), True),  # numpy's failed allocations are MemoryErrors with a message of their own
    (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"), True),
    (RuntimeError("MPS backend out of memory"), True),
    (RuntimeError("Out of memory on device"), True),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), False),
    (RuntimeError("Storage size calculation overflowed with sizes=[4611686018427387904, 40]"), True),
    (TypeError("empty(): argument 'size' failed to unpack the object at pos 1 with error \"Overflow when unpacking "
               "long long\""), True),
    (TypeError("unsupported operand type(s) for *: 'int' and 'NoneType'"), False),
])
def test_out_of_memory_tells_failed_allocations_from_other_errors(error, expected):
    assert out_of_memory(error) is expected
