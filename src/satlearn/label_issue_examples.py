"""Pictures of the flagged examples: the inputs whose labels SAT's targets moved away from, most likely wrong first,
each titled with its place in the data, its given and suggested class and its score.

Images are shown as a person sees them, sequences (MNIST-1D) as a line; rows of tabular features have no picture
that says more than the numbers (:func:`why_no_pictures`), and lead back to the user's file through the CSV's
``index`` or ``source_row`` instead.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import TYPE_CHECKING, Any

from satlearn.errors import ConfigError, ConfigTypeError, DataError

if TYPE_CHECKING:
    import numpy as np

    from satlearn.engine.checkpoint import FilesWrittenTogether
    from satlearn.label_issues import LabelIssues

EXAMPLES_NAME = "label_issues_examples.png"
DEFAULT_EXAMPLES = 24
# more panels would make a figure too large to look at, and slow to draw
MAX_EXAMPLES = 100
_COLUMNS = 6
# a class name or file path in a panel's title is cut to this many characters, so that a long one cannot reach over
# the panel beside it
_TITLE_CHARS = 16
# a file path, its end kept, may take a whole line
_PATH_CHARS = 24
_TITLE_SIZE, _SMALLEST_TITLE_SIZE = 7.5, 5.0
# title colours where the true labels are known, each at least 4.5:1 against white (WCAG's contrast for text): the
# palette's dark red for a given label that is wrong, its blue for one that is right
_WRONG_COLOUR, _RIGHT_COLOUR = 3, 0


def checked_count(count: Any, *, name: str = "count") -> int:
    """``count`` as a number of panels in ``[0, MAX_EXAMPLES]``: a :class:`ConfigTypeError` for what is not a whole
    number, a :class:`ConfigError` for one out of range."""
    if isinstance(count, bool) or not isinstance(count, numbers.Real) or not float(count).is_integer():
        raise ConfigTypeError(f"{name}={count!r}; expected a whole number of examples")
    if not 0 <= count <= MAX_EXAMPLES:
        raise ConfigError(f"{name}={count}: expected a number of examples in [0, {MAX_EXAMPLES}]")
    return int(count)


def why_no_pictures(kind: str, input_shape: tuple[int, ...]) -> str | None:
    """Why inputs of a source's ``kind`` (:attr:`satlearn.data.DatasetSplits.kind`) and per-example
    ``input_shape`` get no picture, in words; None where they do: images ``(C, H, W)`` of 1, 3 or 4 channels, and
    sequences ``(L,)``."""
    if kind == "tabular":
        return ("rows of tabular features have no picture that says more than their numbers; the CSV's index (or "
                "source_row) leads to each row in your data")
    if kind == "image" and (len(input_shape) != 3 or input_shape[0] not in (1, 3, 4)):
        return f"images of shape {input_shape} are not grey, RGB or RGBA (C, H, W)"
    if kind == "sequence" and len(input_shape) != 1:
        return f"sequences of shape {input_shape} are not one signal (L,) each"
    if kind not in ("image", "sequence"):
        return f"inputs of kind {kind!r} have no picture"
    return None


def _shortened(text: str, *, keep_end: bool = False) -> str:
    """``text`` cut to :data:`_TITLE_CHARS` characters with an ellipsis; ``keep_end``: to :data:`_PATH_CHARS`, its
    end kept (a file path's name)."""
    most = _PATH_CHARS if keep_end else _TITLE_CHARS
    if len(text) <= most:
        return text
    return "…" + text[-(most - 1):] if keep_end else text[:most - 1] + "…"


def _picked_inputs(inputs: Any, positions: np.ndarray) -> np.ndarray:
    """The rows ``positions`` of ``inputs`` (a NumPy array or a tensor) as a NumPy array: only those are copied."""
    import numpy as np

    size = len(inputs)
    if len(positions) and int(positions.max()) >= size:
        raise DataError(f"inputs hold {size} examples, but the issues name position {int(positions.max())}; expected "
                        "the whole training split's inputs, those of a held-out validation split included")
    picked = inputs[positions.tolist()]
    return np.asarray(picked.detach().cpu() if hasattr(picked, "detach") else picked)


def _as_images(x: np.ndarray, mean: Any, std: Any) -> np.ndarray:
    """``(K, C, H, W)`` images as ``(K, H, W, C)`` floats in [0, 1], as a person sees them: uint8 ones scaled from
    0-255; float ones with ``mean`` and ``std`` taken as normalised so, which is undone."""
    import numpy as np

    if x.dtype == np.uint8:
        images = x.astype(np.float32) / 255.0
    else:
        images = x.astype(np.float32)
        if mean is not None or std is not None:
            shape = (1, -1, 1, 1)
            scale = np.ones(1) if std is None else np.asarray(std, dtype=np.float32).reshape(shape)
            shift = np.zeros(1) if mean is None else np.asarray(mean, dtype=np.float32).reshape(shape)
            images = images * scale + shift
    return np.clip(images, 0.0, 1.0).transpose(0, 2, 3, 1)


def _fit_titles(fig, columns: int) -> None:
    """Shrinks each panel's title that is wider than its column (names of wide letters: "WWW..." is twice as wide
    as as many of most letters), down to :data:`_SMALLEST_TITLE_SIZE`, so that it reaches over no panel beside it."""
    renderer = fig.canvas.get_renderer()
    room = 0.95 * fig.get_figwidth() * fig.dpi / columns
    for ax in fig.axes:
        size = _TITLE_SIZE
        while ax.title.get_window_extent(renderer).width > room and size > _SMALLEST_TITLE_SIZE:
            size -= 0.5
            ax.title.set_fontsize(size)


def plot_label_issue_examples(issues: LabelIssues, inputs: Any, path: str | Path, *, count: int = DEFAULT_EXAMPLES,
                              class_names: list[str] | None = None, true_labels: Any = None,
                              origin: tuple[str, np.ndarray] | None = None, mean: Any = None, std: Any = None,
                              files: FilesWrittenTogether | None = None) -> int:
    """Draws the ``count`` flagged examples most likely wrong (fewer where fewer are flagged), by rank, left to right
    and then down, into the PNG ``path``; returns how many it drew, and writes nothing where that is 0.

    Args:
        issues: :func:`satlearn.label_issues.find_label_issues`' result, N rows.
        inputs: ``(M, C, H, W)`` images (``uint8`` 0-255, or floats in [0, 1]) or ``(M, L)`` 1-D signals, a NumPy
            array or a tensor: the whole training split, indexed by :meth:`LabelIssues.positions` (M ≥ N where a
            validation split was held out: its examples are among the M, not among the N).
        count: how many examples at most, in [0, :data:`MAX_EXAMPLES`].
        class_names: C names, index = label (default: the class indices).
        true_labels: ``(N,)`` the true labels, one per row of ``issues``: each title then says whether the given
            label is really wrong, in words and in its colour.
        origin: ``(column, (N,) values)``, where each example is in the user's data (a run's ``origin``:
            ``source_row`` or ``file``), which the titles then give instead of the ``index``.
        mean, std: one value per channel, where float images were normalised (``(x - mean) / std`` after scaling to
            [0, 1]), to undo it; uint8 images are drawn as they are.
        files: the set of files it is written with (:func:`satlearn.label_issues.write_label_issues`'); by default
            it is written alone.
    Images are drawn channels last, clipped to [0, 1], one channel in grey; signals as a line against their
    position. Inputs of any other shape are a :class:`DataError`, as are inputs that lack a position the issues
    name.
    """
    import numpy as np

    from satlearn.engine.checkpoint import atomic_write_bytes
    from satlearn.engine.reporting import new_figure, palette, plain_text

    count = checked_count(count)
    rows = issues.ranked_indices[:count]
    if len(rows) == 0:
        return 0
    ndim = getattr(inputs, "ndim", None)
    if ndim not in (2, 4):
        raise DataError(f"inputs of shape {tuple(getattr(inputs, 'shape', ()))}; expected (M, C, H, W) images or "
                        "(M, L) signals")
    if ndim == 4 and inputs.shape[1] not in (1, 3, 4):
        raise DataError(f"images of shape {tuple(inputs.shape)}; expected (M, C, H, W) with 1, 3 or 4 channels")
    issues._check_names(class_names)
    issues._check_per_example(true_labels=true_labels, origin=origin)
    positions = issues.positions(rows)
    picked = _picked_inputs(inputs, positions)
    if ndim == 4:
        picked = _as_images(picked, mean, std)
    names = class_names or [str(c) for c in range(issues.probs.shape[1])]
    truth = None if true_labels is None else np.asarray(true_labels)
    colours = palette()

    columns = min(_COLUMNS, len(rows))
    lines = 5 if truth is not None else 4
    # an image is as tall as its column is wide (1.9 in): a row given less pushed its titles up into the heading
    panel_height = (2.0 if ndim == 4 else 1.1) + 0.16 * lines
    fig, axes = new_figure(math.ceil(len(rows) / columns), columns, squeeze=False,
                           figsize=(1.9 * columns, panel_height * math.ceil(len(rows) / columns) + 0.5))
    fig.set_layout_engine("constrained", h_pad=0.06)
    for ax in axes.flat[len(rows):]:  # a last row that is not full
        fig.delaxes(ax)
    for k, (ax, row) in enumerate(zip(axes.flat, rows)):
        if ndim == 4:
            image = picked[k]
            # small images (CIFAR's 32 × 32) as their pixels; large ones smoothed, not aliased, as they shrink
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0.0, vmax=1.0,
                      interpolation="nearest" if image.shape[0] <= 64 else "antialiased")
            ax.set_axis_off()
        else:
            ax.plot(picked[k], color=colours[2], linewidth=1.0)  # (grey: blue and red speak of the labels)
            ax.set_xticks([])
            ax.set_yticks([])
        given, suggested = int(issues.given_labels[row]), int(issues.suggested_labels[row])
        where = (f"{origin[0]} {_shortened(str(origin[1][row]), keep_end=True)}" if origin is not None
                 else f"index {int(positions[k])}")
        title = [where, f"given {_shortened(names[given])}",
                 f"→ suggested {_shortened(names[suggested])}" if suggested != given else "→ kept",
                 f"score {issues.scores[row]:.3f}"]
        colour = "black"
        if truth is not None:
            wrong = int(truth[row]) != given
            title.append(f"true: {_shortened(names[int(truth[row])])}")
            colour = colours[_WRONG_COLOUR if wrong else _RIGHT_COLOUR]
        ax.set_title(plain_text("\n".join(title)), fontsize=_TITLE_SIZE, color=colour, linespacing=1.15)
    _fit_titles(fig, columns)
    heading = f"The {len(rows)} flagged labels most likely wrong, by rank (left to right, then down)"
    if truth is not None:
        heading += "\ntitle in red: the given label is wrong (true label below it); in blue: it is right"
    fig.suptitle(heading, fontsize=9)
    write = files.write_bytes if files is not None else atomic_write_bytes
    write(Path(path), lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))
    return len(rows)
