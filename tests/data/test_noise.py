import numpy as np
import pytest

from satlearn.config import NoiseConfig
from satlearn.data.noise import CIFAR10_CLASSES, apply_noise, knows_true_labels, pair_map, read_label_file
from satlearn.errors import DataError

N, C = 20000, 10


@pytest.fixture
def labels():
    return np.random.default_rng(123).integers(0, C, N)


@pytest.mark.parametrize("rate", [0.2, 0.4, 0.8])
def test_symmetric_paper_mode_error_rate_is_r_times_c_minus_1_over_c(labels, rate):
    noisy = apply_noise(labels, C, NoiseConfig(kind="symmetric", rate=rate, mode="paper", seed=1))
    actual = (noisy != labels).mean()
    assert abs(actual - rate * (C - 1) / C) < 0.01
    assert (noisy != labels).sum() <= int(rate * N)


def test_symmetric_exact_mode_flips_exactly_rate(labels):
    noisy = apply_noise(labels, C, NoiseConfig(kind="symmetric", rate=0.4, mode="exact", seed=1))
    assert (noisy != labels).sum() == int(0.4 * N)


def test_pair_noise_uses_the_cifar10_map(labels):
    noisy = apply_noise(labels, C, NoiseConfig(kind="pair", rate=0.4, seed=3), class_names=CIFAR10_CLASSES)
    changed = noisy != labels
    target = pair_map(C, CIFAR10_CLASSES)
    assert (noisy[changed] == target[labels[changed]]).all()
    name = {i: n for i, n in enumerate(CIFAR10_CLASSES)}
    moves = {(name[a], name[b]) for a, b in zip(labels[changed], noisy[changed])}
    assert moves == {("truck", "automobile"), ("bird", "airplane"), ("deer", "horse"), ("cat", "dog"), ("dog", "cat")}
    mapped = np.isin(labels, [CIFAR10_CLASSES.index(c) for c in ("truck", "bird", "deer", "cat", "dog")])
    assert abs(changed[mapped].mean() - 0.4) < 0.01


def test_pair_noise_elsewhere_moves_to_the_next_class(labels):
    noisy = apply_noise(labels, C, NoiseConfig(kind="pair", rate=0.3, seed=3))
    changed = noisy != labels
    assert (noisy[changed] == (labels[changed] + 1) % C).all()
    assert abs(changed.mean() - 0.3) < 0.001


def test_noise_depends_only_on_its_own_seed(labels):
    a = apply_noise(labels, C, NoiseConfig(kind="symmetric", rate=0.4, seed=7))
    np.random.seed(999)  # a training seed must not matter
    b = apply_noise(labels, C, NoiseConfig(kind="symmetric", rate=0.4, seed=7))
    c = apply_noise(labels, C, NoiseConfig(kind="symmetric", rate=0.4, seed=8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_file_noise_reads_npz_keys_and_checks_length(tmp_path, labels):
    wrong = (labels + 1) % C
    np.savez(tmp_path / "n.npz", worst=wrong.astype(np.uint8))
    noisy = apply_noise(labels, C, NoiseConfig(kind="file", file=str(tmp_path / "n.npz"), key="worst"))
    assert np.array_equal(noisy, wrong)
    with pytest.raises(DataError, match="no array 'aggre'"):
        apply_noise(labels, C, NoiseConfig(kind="file", file=str(tmp_path / "n.npz"), key="aggre"))
    np.save(tmp_path / "short.npy", wrong[:10])
    with pytest.raises(DataError, match="10 labels, but the training split has"):
        apply_noise(labels, C, NoiseConfig(kind="file", file=str(tmp_path / "short.npy")))
    np.save(tmp_path / "big.npy", np.full(N, C))
    with pytest.raises(DataError, match=r"label 10 at index 0 is outside \[0, 10\)"):
        apply_noise(labels, C, NoiseConfig(kind="file", file=str(tmp_path / "big.npy")))
    with pytest.raises(DataError, match="label file not found"):
        apply_noise(labels, C, NoiseConfig(kind="file", file=str(tmp_path / "missing.npy")))


@pytest.mark.parametrize("mode", ["paper", "exact"])
def test_symmetric_noise_draws_every_allowed_class_about_equally_often(mode):
    # all given labels 0: every changed label's value is the class it was moved to
    rate = 0.5
    noisy = apply_noise(np.zeros(N, np.int64), C, NoiseConfig(kind="symmetric", rate=rate, mode=mode, seed=1))
    allowed = range(C) if mode == "paper" else range(1, C)  # exact never gives the true class back
    counts = np.bincount(noisy, minlength=C)
    counts[0] -= N - int(rate * N)  # the labels left alone
    assert set(np.flatnonzero(counts)) == set(allowed)
    # 10000 draws over 9-10 classes: the standard error of a share is 0.003, so 0.015 is 5 of them
    shares = counts[list(allowed)] / int(rate * N)
    assert np.abs(shares - 1 / len(allowed)).max() < 0.015


def test_pair_noise_depends_on_its_seed(labels):
    a = apply_noise(labels, C, NoiseConfig(kind="pair", rate=0.4, seed=7))
    again = apply_noise(labels, C, NoiseConfig(kind="pair", rate=0.4, seed=7))
    other = apply_noise(labels, C, NoiseConfig(kind="pair", rate=0.4, seed=8))
    assert np.array_equal(a, again) and not np.array_equal(a, other)


def test_text_label_files_skip_a_csv_header_and_keep_a_headerless_first_label(tmp_path):
    expected = np.array([3, 0, 9, 1, 1])
    (tmp_path / "with_header.csv").write_text("index,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(expected)))
    (tmp_path / "plain.txt").write_text("".join(f"{v}\n" for v in expected))
    assert read_label_file(tmp_path / "with_header.csv").tolist() == expected.tolist()
    assert read_label_file(tmp_path / "plain.txt").tolist() == expected.tolist()


def test_a_label_file_whose_suffix_lies_says_what_it_is_not(tmp_path):
    from satlearn.errors import DataError

    labels = np.array([1, 0, 2])
    for name, fault in (("labels.npy", r"not a \.npy file \(no numpy header\)"),
                        ("labels.npz", r"not a \.npz archive \(no zip structure\)")):
        (tmp_path / name).write_text("1\n0\n2\n")  # text saved under a numpy suffix
        with pytest.raises(DataError, match=fault) as caught:
            read_label_file(tmp_path / name)
        assert "pickle" not in str(caught.value) and name in str(caught.value)
    np.save(tmp_path / "labels.npy", labels)
    np.savez(tmp_path / "labels.npz", noisy=labels)
    assert read_label_file(tmp_path / "labels.npy").tolist() == [1, 0, 2]
    assert read_label_file(tmp_path / "labels.npz", key="noisy").tolist() == [1, 0, 2]


def _damage(good: bytes, how: str) -> bytes:
    # the first member's data follow its 30-byte local header, its name and its extra field
    name_length, extra_length = int.from_bytes(good[26:28], "little"), int.from_bytes(good[28:30], "little")
    data_at = 30 + name_length + extra_length
    damaged = bytearray(good)
    if how == "truncated":
        return good[:300]  # zip directory gone
    if how == "cut_from_the_middle":
        return good[:200] + good[400:]  # zip directory kept, offsets wrong
    if how == "start_overwritten":
        damaged[:4] = b"XXXX"
    elif how == "flipped_byte":
        damaged[data_at + 100] ^= 0xFF  # CRC mismatch
    elif how == "bad_deflate_stream":
        damaged[data_at] = 0xFF  # block type 3, which deflate does not have
    return bytes(damaged)


@pytest.mark.parametrize("how,compressed,message", [
    ("truncated", False, r"not a \.npz archive"),
    ("start_overwritten", False, r"not a \.npz archive"),
    ("cut_from_the_middle", False, r"damaged \.npz archive \(OSError"),
    ("flipped_byte", False, r"damaged \.npz archive \(BadZipFile: Bad CRC-32"),
    ("bad_deflate_stream", True, r"damaged \.npz archive \(error: Error -3"),
])
def test_a_damaged_npz_label_file_is_one_line_naming_it(tmp_path, how, compressed, message):
    save = np.savez_compressed if compressed else np.savez
    save(tmp_path / "good.npz", worst=np.arange(100) % C)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(_damage((tmp_path / "good.npz").read_bytes(), how))
    with pytest.raises(DataError, match=rf"^{tmp_path / 'bad.npz'}: {message}") as caught:
        read_label_file(bad, key="worst")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text", [
    "3\n0\n9\n1\n1\n",
    "\ufeff3\n0\n9\n1\n1\n",  # byte-order mark, as spreadsheets write it
    "+3\n+0\n+9\n+1\n+1\n",
    " 3\r\n0\r\n9\r\n1\r\n1\r\n",
    "\ufeffindex,label\n0,3\n1,0\n2,9\n3,1\n4,1\n",
    "index,label\n0,+3\n1,0\n\n2,9\n3,1\n4,1\n",
])
def test_text_label_files_never_take_a_number_for_a_header(tmp_path, text):
    path = tmp_path / "labels.csv"
    path.write_bytes(text.encode())
    assert read_label_file(path).tolist() == [3, 0, 9, 1, 1]


def test_text_label_files_that_cannot_be_read_are_one_line_naming_the_file(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_bytes("label\n1\n2\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"labels\.txt: not UTF-8 text \(invalid start byte at byte 0\)"):
        read_label_file(path)
    data = b"\xef\xbb\xbflabel\n1\n\xe9\n"  # a byte-order mark, then a Latin-1 byte: counted from the file's start
    path.write_bytes(data)
    with pytest.raises(DataError, match=rf"labels\.txt: not UTF-8 text \(invalid continuation byte at byte "
                                        rf"{data.index(0xE9)}\)"):
        read_label_file(path)
    path.write_text("label\n1\ntwo\n3\n")
    with pytest.raises(DataError, match=r"labels\.txt: line 3: 'two' is not an integer label \(expected class "
                                        r"indices, 0 to num_classes - 1, one a line\)$"):
        read_label_file(path)
    path.write_text("label\n\n")
    with pytest.raises(DataError, match=r"labels\.txt: holds no labels"):
        read_label_file(path)


def test_a_label_file_starting_with_a_tilde_is_in_the_home_directory(tmp_path, monkeypatch, labels):
    monkeypatch.setenv("HOME", str(tmp_path))
    np.save(tmp_path / "lab.npy", labels)
    noisy = apply_noise(labels, C, NoiseConfig(kind="file", file="~/lab.npy"))
    assert np.array_equal(noisy, labels)


def test_a_label_file_may_hold_one_label_per_source_example_where_the_training_split_was_drawn(tmp_path):
    source = np.array([0, 1, 2, 0, 1, 2, 0, 1])  # the labels of a CSV's 8 data rows
    rows = np.array([0, 2, 3, 5, 7])  # the rows drawn for training
    per_row = np.array([1, 1, 0, 0, 1, 0, 0, 2])
    np.save(tmp_path / "rows.npy", per_row)
    noise = NoiseConfig(kind="file", file=str(tmp_path / "rows.npy"))
    noisy = apply_noise(source[rows], 3, noise, source_rows=rows, source_size=8)
    assert noisy.tolist() == per_row[rows].tolist()
    np.save(tmp_path / "train.npy", per_row[:5])  # one per training example: as before
    assert apply_noise(source[rows], 3, NoiseConfig(kind="file", file=str(tmp_path / "train.npy")),
                       source_rows=rows, source_size=8).tolist() == per_row[:5].tolist()
    np.save(tmp_path / "six.npy", per_row[:6])
    with pytest.raises(DataError, match="6 labels, but the training split has 5 examples, drawn from the source's 8 "
                                        r"examples \(one label per source example also works\)"):
        apply_noise(source[rows], 3, NoiseConfig(kind="file", file=str(tmp_path / "six.npy")),
                    source_rows=rows, source_size=8)


def test_a_label_file_of_class_names_is_told_that_it_holds_class_indices(tmp_path):
    np.savetxt(tmp_path / "named.txt", [5, 2, 1], fmt="%d")  # the user's own labels 1, 2, 5, not indices
    with pytest.raises(DataError, match=r"label 5 at index 0 is outside \[0, 3\) \(class indices into 0=1, 1=2, 2=5\)"):
        apply_noise(np.array([0, 1, 2]), 3, NoiseConfig(kind="file", file=str(tmp_path / "named.txt")),
                    class_names=["1", "2", "5"])


@pytest.mark.parametrize("kind,known", [("none", False), (None, False), ("symmetric", True), ("pair", True),
                                        ("file", True)])
def test_which_noise_kinds_know_the_true_labels(kind, known):
    assert knows_true_labels(kind) is known


def test_pair_noise_moves_exactly_rate_of_the_examples_whose_class_has_a_partner(labels):
    # only the five mapped CIFAR-10 classes can move, and each chosen one moves to a different class, so exactly
    # int(rate * M) labels change, M counted from the given labels
    mapped = np.isin(labels, [CIFAR10_CLASSES.index(c) for c in ("truck", "bird", "deer", "cat", "dog")])
    for seed in range(3):
        noisy = apply_noise(labels, C, NoiseConfig(kind="pair", rate=0.4, seed=seed), class_names=CIFAR10_CLASSES)
        assert (noisy != labels).sum() == int(0.4 * mapped.sum())
        assert (noisy[~mapped] == labels[~mapped]).all()


def test_symmetric_noise_refuses_an_unknown_mode(labels):
    with pytest.raises(DataError, match="unknown mode 'Exact'; expected paper or exact"):
        apply_noise(labels, C, NoiseConfig(kind="symmetric", rate=0.4, mode="Exact"))


def test_no_noise_returns_a_copy_that_leaves_the_given_labels_alone(labels):
    given = labels.astype(np.int64)
    kept = given.copy()
    noisy = apply_noise(given, C, NoiseConfig(kind="none"))
    noisy[:] = 0
    assert np.array_equal(given, kept)


@pytest.mark.parametrize("name,stored,fault", [
    ("negative.npy", np.array([1, -1, 2]), r"label -1 at index 1 is outside \[0, 3\)"),
    ("floats.npy", np.array([1.0, 0.0, 2.0]),
     r"expected a 1-D integer label array or \(K, 2\) rows of example index and new label, "
     r"got float64 of shape \(3,\)"),
    ("table.npy", np.array([[1, 0, 2]]),
     r"expected a 1-D integer label array or \(K, 2\) rows of example index and new label, "
     r"got int64 of shape \(1, 3\)"),
])
def test_a_label_file_must_hold_one_class_index_per_example(tmp_path, name, stored, fault):
    np.save(tmp_path / name, stored)
    with pytest.raises(DataError, match=rf"{name}: {fault}"):
        apply_noise(np.array([0, 1, 2]), 3, NoiseConfig(kind="file", file=str(tmp_path / name)))


def test_a_label_file_is_read_as_int64_whatever_integer_type_it_was_saved_as(tmp_path):
    # the training labels become a tensor as read: a uint8 one is no class index to cross-entropy
    np.save(tmp_path / "small.npy", np.array([3, 0, 2], dtype=np.uint8))
    np.savez(tmp_path / "small.npz", aggre=np.array([3, 0, 2], dtype=np.int16))
    for read in (read_label_file(tmp_path / "small.npy"), read_label_file(tmp_path / "small.npz", key="aggre")):
        assert read.dtype == np.int64 and read.tolist() == [3, 0, 2]


def test_an_npz_label_file_without_a_key_lists_the_arrays_to_choose_from(tmp_path):
    np.savez(tmp_path / "n.npz", aggre=np.zeros(3, int), worst=np.ones(3, int))
    with pytest.raises(DataError, match=r"n\.npz: data\.noise\.key must name one of the arrays: aggre, worst"):
        apply_noise(np.zeros(3, int), C, NoiseConfig(kind="file", file=str(tmp_path / "n.npz")))


def test_index_label_rows_change_only_the_examples_they_name(tmp_path):
    # the official SAT code's noisy_idx_labels.npy: (index, new label) rows of the changed examples only
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    rows = np.array([[6, 0], [1, 3], [4, 2]])
    np.save(tmp_path / "noisy_idx_labels.npy", rows)
    np.savez(tmp_path / "changes.npz", official=rows)
    expected = [0, 3, 2, 3, 2, 1, 0, 3]
    for file, key in ((tmp_path / "noisy_idx_labels.npy", None), (tmp_path / "changes.npz", "official")):
        noisy = apply_noise(labels, 4, NoiseConfig(kind="file", file=str(file), key=key))
        assert noisy.tolist() == expected
    assert labels.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    # a generic label reader still wants one label per example
    with pytest.raises(DataError, match=r"expected a 1-D integer label array, got int64 of shape \(3, 2\)"):
        read_label_file(tmp_path / "noisy_idx_labels.npy")


@pytest.mark.parametrize("rows, message", [
    ([[0, 1], [8, 2]], r"index 8 in row 1 is outside the training split's 8 examples \(expected \(index, new label\) "
                       r"rows, indices 0 to 7\)$"),
    ([[-1, 1]], r"index -1 in row 0 is outside"),
    ([[0, 1], [3, 4]], r"label 4 in row 1 is outside \[0, 4\)$"),
    ([[5, 1], [2, 0], [5, 3]], r"index 5 is in rows 0 and 2; expected each changed example once$"),
    ([[0, 1, 2]], r"expected a 1-D integer label array or \(K, 2\) rows of example index and new label, got int64 "
                  r"of shape \(1, 3\)$"),
    ([[0.0, 1.0]], r"expected a 1-D integer label array or \(K, 2\) rows .*, got float64 of shape \(1, 2\)$"),
])
def test_index_label_rows_that_cannot_be_applied_are_refused_naming_the_row(tmp_path, rows, message):
    np.save(tmp_path / "rows.npy", np.array(rows))
    with pytest.raises(DataError, match=message) as caught:
        apply_noise(np.zeros(8, dtype=np.int64), 4, NoiseConfig(kind="file", file=str(tmp_path / "rows.npy")))
    assert str(caught.value).startswith(str(tmp_path / "rows.npy")) and "\n" not in str(caught.value)


@pytest.mark.parametrize("n, rate, resampled", [(7, 0.5, 3), (100, 0.29, 28)])
def test_the_number_of_resampled_labels_is_rate_times_n_truncated_as_the_papers_code_takes_it(n, rate, resampled):
    # int(rate * N), not rounded: 3.5 → 3, and 0.29 * 100 = 28.999999999999996 → 28; exact mode changes every
    # label it draws, so the count of changed labels is that number
    noisy = apply_noise(np.zeros(n, np.int64), C, NoiseConfig(kind="symmetric", rate=rate, mode="exact", seed=0))
    assert int((noisy != 0).sum()) == resampled


def test_a_label_file_may_hold_its_labels_as_one_column(tmp_path):
    # what a one-column table's values give ((N, 1)), as the npz data source takes its labels
    np.save(tmp_path / "column.npy", np.array([[2], [0], [1]]))
    assert read_label_file(tmp_path / "column.npy").tolist() == [2, 0, 1]
    noisy = apply_noise(np.array([0, 0, 0]), 3, NoiseConfig(kind="file", file=str(tmp_path / "column.npy")))
    assert noisy.tolist() == [2, 0, 1]
    np.save(tmp_path / "two.npy", np.array([[2, 0], [0, 1], [1, 1]]))  # two columns: no label array
    with pytest.raises(DataError, match=r"expected a 1-D integer label array, got int64 of shape \(3, 2\)"):
        read_label_file(tmp_path / "two.npy")
