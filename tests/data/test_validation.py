import numpy as np
import pytest
import torch

from satlearn.data import DatasetSplits
from satlearn.data.validation import hold_out, training_index, validation_index
from satlearn.errors import ConfigError


def splits(labels, class_names=None):
    labels = torch.tensor(labels)
    names = class_names or [str(c) for c in range(int(labels.max()) + 1)]
    return DatasetSplits(x_train=torch.zeros(len(labels), 3), y_train=labels, x_test=torch.zeros(2, 3),
                         y_test=torch.tensor([0, 1]), num_classes=len(names), class_names=names, kind="tabular",
                         name="rows")


def test_a_random_validation_split_is_drawn_by_its_seed_alone_and_keeps_the_training_order():
    held = validation_index(1000, 100, pick="random", seed=42)
    assert held.dtype == np.int64 and len(np.unique(held)) == 100 and (np.diff(held) > 0).all()
    assert 0 <= held.min() and held.max() < 1000
    assert np.array_equal(held, validation_index(1000, 100, pick="random", seed=42))
    assert not np.array_equal(held, validation_index(1000, 100, pick="random", seed=43))
    # spread over the whole split, not its end: an image folder's last examples are one class
    assert held.min() < 100 and held.max() > 900
    kept = training_index(1000, held)
    assert len(kept) == 900 and np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(1000))


def test_the_last_pick_holds_out_the_last_examples_as_the_official_code_holds_out_cifars_last_5000():
    assert validation_index(50000, 5000, pick="last").tolist() == list(range(45000, 50000))
    assert training_index(50000, validation_index(50000, 5000, pick="last")).tolist() == list(range(45000))


def test_the_validation_draw_is_not_the_test_splits_draw_of_the_same_seed():
    # csv, npz and image folders draw their test split with np.random.default_rng(data_seed).permutation(n)
    n, size = 200, 40
    test_draw = np.sort(np.random.default_rng(7).permutation(n)[:size])
    assert not np.array_equal(validation_index(n, size, pick="random", seed=7), test_draw)


@pytest.mark.parametrize("size", [10, 11])
def test_a_split_that_leaves_nothing_to_train_on_is_one_line(size):
    with pytest.raises(ConfigError, match=r"^data.val_size=\d+; expected 0 to 9 \(the training split has 10 "
                                          r"examples, and at least one must be left to train on\)$"):
        hold_out(splits([0, 1] * 5), size)


def test_no_split_is_none():
    assert hold_out(splits([0, 1] * 5), 0) is None


def test_a_split_that_takes_every_training_example_of_a_class_is_refused_naming_it():
    data = splits([0, 0, 0, 1, 1, 2, 2, 2], class_names=["ant", "bee", "cat"])
    with pytest.raises(ConfigError, match=r"^data.val_size=3, data.val_pick=last: the validation split takes all "
                                          r"3 training examples of class 2 \('cat'\), which would leave it none to "
                                          r"learn from; a smaller data.val_size, or data.val_pick=random draws them "
                                          r"from the whole split, keeps some$"):
        hold_out(data, 3, pick="last")
    assert hold_out(data, 2, pick="last").tolist() == [6, 7]
    # a class that has no training example to begin with is not the split's doing (a fixed class set may lack one)
    assert hold_out(splits([0, 0, 2, 2], class_names=["a", "b", "c"]), 1, pick="last").tolist() == [3]


def test_a_random_split_that_empties_a_class_says_another_seed_draws_others():
    data = splits([0] * 9 + [1])
    seed = next(s for s in range(100) if 9 in validation_index(10, 5, pick="random", seed=s))
    with pytest.raises(ConfigError, match=r"takes the only training example of class 1.*another data.data_seed draws "
                                          r"others"):
        hold_out(data, 5, pick="random", seed=seed)
