import pytest
import torch

from satlearn.errors import ConfigError, DataError, DataTypeError
from satlearn.targets import SoftTargets


def test_starts_one_hot_from_labels():
    targets = SoftTargets(torch.tensor([2, 0, 1]), num_classes=3)
    assert torch.equal(targets.targets, torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]]))
    assert torch.equal(targets.labels, torch.tensor([2, 0, 1]))


def test_update_is_the_ema_and_touches_only_the_batch():
    torch.manual_seed(0)
    targets = SoftTargets(torch.randint(0, 5, (10,)), num_classes=5)
    before = targets.targets.clone()
    idx = torch.tensor([3, 7])
    probs = torch.softmax(torch.randn(2, 5), dim=1)
    rows = targets.update(idx, probs, momentum=0.9)
    torch.testing.assert_close(rows, 0.9 * before[idx] + 0.1 * probs)
    torch.testing.assert_close(targets.targets[idx], rows)
    untouched = torch.ones(10, dtype=torch.bool)
    untouched[idx] = False
    assert torch.equal(targets.targets[untouched], before[untouched])


def test_a_shuffled_batch_moves_each_row_towards_its_own_prediction():
    # batches arrive in shuffled order: row idx[k] must take probs[k], worked out one example at a time from
    # t ← α onehot(label) + (1 − α) p, and read back in the batch's order
    torch.manual_seed(0)
    labels = torch.tensor([0, 1, 2, 3, 4])
    targets = SoftTargets(labels, num_classes=5)
    idx = torch.tensor([4, 0, 2])
    probs = torch.softmax(torch.randn(3, 5), dim=1)
    rows = targets.update(idx, probs, momentum=0.7)
    for k, i in enumerate(idx.tolist()):
        expected = torch.tensor([0.7 * (j == int(labels[i])) + 0.3 * float(probs[k, j]) for j in range(5)])
        torch.testing.assert_close(rows[k], expected)
        torch.testing.assert_close(targets.targets[i], expected)
    torch.testing.assert_close(targets(idx), rows)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_rows_stay_on_the_simplex_over_many_updates(dtype):
    torch.manual_seed(1)
    n, c = 64, 7
    targets = SoftTargets(torch.randint(0, c, (n,)), num_classes=c, dtype=dtype)
    for _ in range(200):
        idx = torch.randperm(n)[:16]
        targets.update(idx, torch.softmax(3 * torch.randn(16, c), dim=1), momentum=0.8)
    table = targets.targets.float()
    tol = 1e-5 if dtype == "float32" else 2e-2
    assert (table >= 0).all()
    torch.testing.assert_close(table.sum(dim=1), torch.ones(n), atol=tol, rtol=0)


def test_weights_are_row_maxima_and_state_dict_round_trips():
    targets = SoftTargets(torch.tensor([0, 1, 1]), num_classes=2)
    targets.update(torch.tensor([1]), torch.tensor([[0.75, 0.25]]), momentum=0.5)
    torch.testing.assert_close(targets.weights(torch.tensor([0, 1])), torch.tensor([1.0, 0.625]))
    state = targets.state_dict()
    assert set(state) == {"labels", "targets"}
    copy = SoftTargets(torch.tensor([1, 1, 1]), num_classes=2)
    copy.load_state_dict(state)
    assert torch.equal(copy.targets, targets.targets)
    label, confidence = copy.refined_labels()
    assert label.tolist() == [0, 1, 1] and confidence.tolist() == [1.0, 0.625, 1.0]


def test_cpu_storage_serves_batches_from_another_device_type():
    targets = SoftTargets(torch.tensor([0, 1]), num_classes=2, device="cpu")
    rows = targets.update(torch.tensor([0]), torch.tensor([[0.0, 1.0]]), momentum=0.0)
    assert rows.device.type == "cpu" and targets.targets.device.type == "cpu"
    assert targets.targets[0].tolist() == [0.0, 1.0]


def test_bfloat16_rows_follow_the_ema_and_stay_probability_vectors_when_momentum_is_near_1():
    # (1 − α)(p − t) = 0.0015 is below half a bfloat16 step near 1 (0.002): stored as rounded, the label's entry
    # would stay at 1.0 while the other grew (row [1.0, 0.125] after 500 updates); rounded at random, it moves
    torch.manual_seed(0)
    targets = SoftTargets(torch.tensor([0]), num_classes=2, dtype="bfloat16")
    for _ in range(500):
        targets.update(torch.tensor([0]), torch.tensor([[0.85, 0.15]]), momentum=0.99)
    row = targets.table()[0]
    torch.testing.assert_close(row.sum(), torch.tensor(1.0))
    torch.testing.assert_close(row, torch.tensor([0.85, 0.15]), atol=0.02, rtol=0)
    assert abs(float(targets.targets.float().sum()) - 1) < 0.02  # the stored row stays near the simplex too
    torch.manual_seed(2)
    n, c = 256, 10
    labels = torch.randint(0, c, (n,))
    low, full = SoftTargets(labels, c, dtype="bfloat16"), SoftTargets(labels, c)
    for _ in range(300):
        idx = torch.randperm(n)[:64]
        probs = torch.softmax(2 * torch.randn(64, c), dim=1)
        low.update(idx, probs, momentum=0.99)
        full.update(idx, probs, momentum=0.99)
    torch.testing.assert_close(low.table().sum(dim=1), torch.ones(n))
    assert (low.table() - full.table()).abs().max() < 0.03
    assert torch.equal(full.table(), full.targets)  # float32 rows are read as stored


def test_a_table_given_a_device_stays_there_when_its_module_moves():
    # the meta device stands in for an accelerator: nn.Module.to() takes the same path
    pinned = SoftTargets(torch.tensor([0, 1]), num_classes=2, device="cpu")
    following = SoftTargets(torch.tensor([0, 1]), num_classes=2)
    holder = torch.nn.ModuleDict({"pinned": pinned, "following": following}).to("meta")
    assert holder["pinned"].targets.device.type == "cpu" and holder["pinned"].labels.device.type == "cpu"
    assert holder["following"].targets.device.type == "meta"
    holder.half()  # nor does it change the dtype it was given
    assert pinned.targets.dtype == torch.float32
    pinned.share_memory()  # what keeps its device and dtype still applies
    assert pinned.targets.is_shared() and pinned.labels.is_shared()


@pytest.mark.parametrize("labels, num_classes, kwargs, error, builtin, message", [
    ([0.9, 2.6], 3, {}, DataTypeError, TypeError, r"labels must be integers, got torch\.float32"),
    ([True, False], 2, {}, DataTypeError, TypeError, r"labels must be integers, got torch\.bool"),
    ([[0, 1], [1, 2]], 3, {}, DataError, ValueError, r"labels must be a 1-D array of N labels, got shape \(2, 2\)"),
    ([0, 3], 3, {}, DataError, ValueError, r"label 3 at index 1 is outside 0\.\.2 \(num_classes=3\)"),
    ([0, -1], 3, {}, DataError, ValueError, r"label -1 at index 1 is outside 0\.\.2"),
    ([0, 1], -1, {}, ConfigError, ValueError, r"num_classes=-1; expected a positive whole number"),
    ([0, 1], 2.0, {}, ConfigError, ValueError, r"num_classes=2\.0; expected a positive whole number"),
    ([0, 1], 2, {"dtype": "float16"}, ConfigError, ValueError, r"dtype='float16'; expected one of: float32, bfloat16"),
    ([0, 1], 2, {"dtype": torch.int64}, ConfigError, ValueError,
     r"dtype=torch\.int64; expected torch\.float32 or torch\.bfloat16"),
])
def test_a_table_is_refused_for_input_that_a_cast_would_bend(labels, num_classes, kwargs, error, builtin, message):
    # satlearn's own error, which the CLI prints as one line, and still the built-in one code may be catching
    with pytest.raises(error, match=rf"^{message}") as refused:
        SoftTargets(torch.tensor(labels), num_classes, **kwargs)
    assert isinstance(refused.value, builtin)


@pytest.mark.parametrize("idx, probs, momentum, message", [
    ([0, 1], [[0.5, 0.5, 0.0]], 0.5, r"probs has shape \(1, 3\); expected \(2, 3\)"),  # would broadcast to both
    ([0, 1], [0.2, 0.3, 0.5], 0.5, r"probs has shape \(3,\); expected \(2, 3\)"),
    ([0, 1], [[1.0], [0.0]], 0.5, r"probs has shape \(2, 1\); expected \(2, 3\)"),
    ([[0, 1]], [[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]], 0.5, r"idx must be a 1-D tensor of example indices"),
    ([0], [[0.0, 1.0, 0.0]], 1.5, r"momentum=1\.5; expected a number in \[0, 1\]"),
    ([0], [[0.0, 1.0, 0.0]], float("nan"), r"momentum=nan; expected a number in \[0, 1\]"),
])
def test_an_update_with_misshapen_rows_or_a_momentum_outside_0_1_is_refused(idx, probs, momentum, message):
    targets = SoftTargets(torch.tensor([0, 1, 2]), 3)
    before = targets.table().clone()
    with pytest.raises(ValueError, match=rf"^{message}"):
        targets.update(torch.tensor(idx), torch.tensor(probs), momentum=momentum)
    assert torch.equal(targets.table(), before)  # nothing written


def test_numpy_class_counts_and_an_empty_label_list_still_build_a_table():
    import numpy as np

    labels = np.array([0, 2, 1])
    table = SoftTargets(labels, labels.max() + 1)  # np.int64
    assert table.num_classes == 3 and type(table.num_classes) is int
    assert SoftTargets([], 4).targets.shape == (0, 4)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("cast", ["half", "double", "bfloat16"])
def test_casting_a_module_that_holds_the_table_leaves_its_storage_dtype(dtype, cast):
    # a float16 table would round small updates away; a bfloat16 one cast to float64 would take 4x the memory
    holder = torch.nn.Module()
    holder.net = torch.nn.Linear(2, 3)
    holder.targets = SoftTargets(torch.tensor([0, 1]), 3, dtype=dtype)
    getattr(holder, cast)()
    assert holder.targets.targets.dtype == getattr(torch, dtype) and holder.targets.labels.dtype == torch.int64
    assert holder.net.weight.dtype != torch.float32  # the module itself was cast
    holder.to("meta")  # and the table still follows the module's device
    assert holder.targets.targets.device.type == "meta" and holder.targets.targets.dtype == getattr(torch, dtype)


def test_update_refuses_inputs_that_are_not_tensors_and_numpy_momenta_out_of_range():
    import numpy as np

    targets = SoftTargets(torch.tensor([0, 1]), 3)
    with pytest.raises(TypeError, match="idx and probs must be tensors, got list and Tensor"):
        targets.update([0], torch.full((1, 3), 1 / 3), momentum=0.9)
    with pytest.raises(ValueError, match=r"momentum=np.float32\(1.5\); expected a number in \[0, 1\]"):
        targets.update(torch.tensor([0]), torch.full((1, 3), 1 / 3), momentum=np.float32(1.5))
    assert torch.equal(targets.table(), torch.eye(3)[:2])  # nothing was written


def test_update_refuses_a_tensor_momentum_out_of_range_or_of_several_values_and_one_that_is_no_number():
    targets = SoftTargets(torch.tensor([0, 1]), 3)
    probs = torch.full((1, 3), 1 / 3)
    # a tensor α of 2 moved the row to [1.67, -0.33, -0.33], off the simplex
    with pytest.raises(ValueError, match=r"^momentum=tensor\(2\.\); expected a number in \[0, 1\]"):
        targets.update(torch.tensor([0]), probs, momentum=torch.tensor(2.0))
    with pytest.raises(ValueError, match=r"^momentum is a tensor of shape \(3,\); expected one number in \[0, 1\]"):
        targets.update(torch.tensor([0]), probs, momentum=torch.full((3,), 0.9))
    with pytest.raises(TypeError, match=r"^momentum='0\.9'; expected a number in \[0, 1\]"):
        targets.update(torch.tensor([0]), probs, momentum="0.9")
    assert torch.equal(targets.table(), torch.eye(3)[:2])  # nothing was written
    rows = targets.update(torch.tensor([0]), probs, momentum=torch.tensor(0.5))  # a tensor in range is taken
    torch.testing.assert_close(rows, 0.5 * torch.eye(3)[:1] + 0.5 * probs)


def test_a_compiled_update_with_a_cpu_tensor_momentum_is_one_graph():
    # a momentum passed as a tensor keeps a compiled step from recompiling as its value changes; reading that value
    # to check it would split the graph in two (Tensor.item), so a compiled update leaves it unread
    targets = SoftTargets(torch.tensor([0, 1, 2]), 3)
    probs = torch.full((2, 3), 1 / 3)
    update = torch.compile(lambda idx, p, m: targets.update(idx, p, momentum=m), fullgraph=True, backend="eager")
    rows = update(torch.tensor([0, 2]), probs, torch.tensor(0.5))
    torch.testing.assert_close(rows, 0.5 * torch.eye(3)[[0, 2]] + 0.5 * probs)


def test_a_bfloat16_table_serves_rows_and_weights_rescaled_to_sum_to_one():
    # stored rows off the simplex, as bfloat16 rounding leaves them: [1, 0.5, 0.5] sums to 2, so it reads
    # [0.5, 0.25, 0.25] with weight 0.5; [0.25, 0.25, 1.5] sums to 2 and reads with weight 0.75 (all exact in bfloat16)
    targets = SoftTargets(torch.tensor([0, 2]), num_classes=3, dtype="bfloat16")
    targets.targets.copy_(torch.tensor([[1.0, 0.5, 0.5], [0.25, 0.25, 1.5]]))
    idx = torch.tensor([1, 0])
    assert targets(idx).tolist() == [[0.125, 0.125, 0.75], [0.5, 0.25, 0.25]]
    assert targets.weights(idx).tolist() == [0.75, 0.5]


def test_the_table_keeps_its_own_copy_of_the_labels_it_started_from():
    labels = torch.tensor([0, 1, 2])
    targets = SoftTargets(labels, num_classes=3)
    labels[0] = 2  # the caller's tensor changes afterwards (noise added in place, say)
    assert targets.labels.tolist() == [0, 1, 2]


def test_a_row_tied_between_its_given_label_and_another_class_keeps_the_given_label_as_find_issues_does():
    # a bfloat16 table ties often (8 significant bits); argmax alone would pick the lower class index, so the
    # run's refined_labels.csv and summary counted a label as moved that find-issues leaves unflagged
    from satlearn.label_issues import find_label_issues

    labels = torch.tensor([1, 2, 0, 2])
    targets = SoftTargets(labels, num_classes=3)
    targets.targets.copy_(torch.tensor([[0.5, 0.5, 0.0], [0.375, 0.25, 0.375], [0.25, 0.375, 0.375],
                                        [0.5, 0.25, 0.25]]))
    label, confidence = targets.refined_labels()
    # rows 0 and 1: tied with a lower class, kept; row 2: a tie of two other classes, the lower one; row 3: moved
    assert label.tolist() == [1, 2, 1, 0]
    assert confidence.tolist() == [0.5, 0.375, 0.375, 0.5]
    issues = find_label_issues(labels, targets)
    assert (label != labels).tolist() == issues.flagged.tolist() == [False, False, True, True]


def test_momentum_1_is_taken_and_leaves_the_rows_where_they_were():
    # α = 1 is the closed end of [0, 1]: t ← 1·t + 0·p, the rows never move (as α = 0 makes them p)
    targets = SoftTargets(torch.tensor([0, 2]), num_classes=3)
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]])
    for momentum in (1.0, torch.tensor(1.0)):
        rows = targets.update(torch.tensor([0, 1]), probs, momentum=momentum)
        assert rows.tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert torch.equal(targets.table(), torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))


def test_a_bfloat16_update_starts_from_the_rows_rescaled_to_sum_to_one():
    # a stored row [1, 0.5, 0.5] reads as [0.5, 0.25, 0.25]; the EMA must move that row, not the stored one:
    # 0.5 [0.5, 0.25, 0.25] + 0.5 [0, 0, 1] = [0.25, 0.125, 0.625] (from the stored row it would be [0.5, 0.25, 0.75],
    # which sums to 1.5). All values are exact in bfloat16, so the random rounding leaves them as they are.
    targets = SoftTargets(torch.tensor([0]), num_classes=3, dtype="bfloat16")
    targets.targets.copy_(torch.tensor([[1.0, 0.5, 0.5]]))
    rows = targets.update(torch.tensor([0]), torch.tensor([[0.0, 0.0, 1.0]]), momentum=0.5)
    assert rows.tolist() == [[0.25, 0.125, 0.625]]
    assert targets.table().tolist() == [[0.25, 0.125, 0.625]]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32])
def test_indices_of_any_integer_dtype_number_the_examples(dtype):
    # a dataset that numbers its examples in uint8 (N <= 256): torch indexes with a uint8 tensor as with a mask, so
    # [2, 0, 1] took the two rows where it is nonzero; int8 and int16 it does not take at all
    expected = SoftTargets(torch.tensor([0, 1, 2]), 3)
    targets = SoftTargets(torch.tensor([0, 1, 2]), 3)
    idx, probs = torch.tensor([2, 0, 1]), torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8]])
    want = expected.update(idx, probs, momentum=0.5)
    torch.testing.assert_close(targets.update(idx.to(dtype), probs, momentum=0.5), want, rtol=0, atol=0)
    assert torch.equal(targets.targets, expected.targets)
    assert torch.equal(targets(idx.to(dtype)), expected(idx)) and torch.equal(targets.weights(idx.to(dtype)),
                                                                           expected.weights(idx))


def test_reading_rows_refuses_indices_that_are_no_integer_tensor_in_one_line():
    targets = SoftTargets(torch.tensor([0, 1]), 3)
    for read in (targets, targets.weights):
        with pytest.raises(TypeError, match=r"^idx must be a tensor of example indices, got list$"):
            read([0, 1])  # was AttributeError: 'list' object has no attribute 'to'
        with pytest.raises(ValueError, match=r"^idx must be a 1-D tensor of example indices, got torch\.float32 of "
                                             r"shape \(2,\)$"):
            read(torch.tensor([0.0, 1.0]))
