"""The ``satlearn`` command. The only module that reads ``sys.argv``."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import errno
import itertools
import json
import os
import select
import signal
import sys
import threading
from pathlib import Path

from satlearn import __version__
# (no NumPy: the command's options are read before anything heavy is imported)
from satlearn.label_issue_examples import DEFAULT_EXAMPLES, EXAMPLES_NAME, MAX_EXAMPLES
from satlearn.paths import literal_path, pasteable_path, shell_quoted, user_path


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set method.start_epoch=40 (repeatable)")


def _add_command(commands: argparse._SubParsersAction, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` opens with the line that ``satlearn --help`` lists it by."""
    return commands.add_parser(name, help=summary.replace("%", "%%"),
                               description=summary[:1].upper() + summary[1:] + ".")


def _count(text: str) -> int:
    from satlearn.yaml_text import whole_number

    try:
        value = whole_number(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a count of 0 or more, got {value}")
    return value


def _number_in(low: float, high: float, what: str):
    """An argparse type: a number in [low, high] written with the digits 0-9 (not ``inf`` or ``nan``), named
    ``what`` when out of it."""
    def parse(text: str) -> float:
        from satlearn.yaml_text import decimal_number

        try:
            value = decimal_number(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number in [{low:g}, {high:g}], got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what} in [{low:g}, {high:g}], got {text}")
        return value

    return parse


def _threads(text: str) -> int:
    """An argparse type: a CPU thread count, checked as ``run.threads`` is."""
    from satlearn.config import thread_count_problem
    from satlearn.yaml_text import whole_number

    try:
        value = whole_number(text)
    except ValueError:  # not a whole number: the check names what it expected
        raise argparse.ArgumentTypeError(f"{thread_count_problem(text)}, got {text!r}") from None
    problem = thread_count_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}, got {value}")
    return value


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_threads, default=None, metavar="N",
                        help="score with N torch CPU threads (default: the run's run.threads); the run's config is "
                             "left as it is")


def _examples(text: str) -> int:
    """An argparse type: how many flagged examples find-issues pictures."""
    count = _count(text)
    if count > MAX_EXAMPLES:
        raise argparse.ArgumentTypeError(f"expected a number of examples in [0, {MAX_EXAMPLES}], got {count}")
    return count


_fraction = _number_in(0.0, 1.0, "a fraction")
_margin = _number_in(-1.0, 1.0, "a margin")  # between two probabilities


class _OneLineParser(argparse.ArgumentParser):
    """A command line that argparse refuses (a mistyped option, a missing RUN_DIR) is one line, as satlearn's other
    errors are, naming where the options are listed instead of printing the usage above it, and the parser that was
    given what it did not recognise: satlearn's before the command, the command's after it, where one of satlearn's
    own options (``--import``) is told to go before the command; a line that also asks for help (``-h`` after a
    value refused) is shown the help. Subcommands' parsers are of this class too (argparse makes them of their
    parent's)."""

    # whether the words this parser reads hold -h or --help, for its error to show the help instead
    _asked_for_help = False

    def error(self, message: str):
        if self._asked_for_help:
            # argparse reads the line in order and stops at a bad value before a -h after it: help was asked for
            self.print_help()
            self.exit(0)
        self.exit(2, f"{self.prog}: error: {message} (options: {self.prog} --help)\n")

    def _check_value(self, action, value):
        """A mistyped command or choice (``satlearn tran``, ``--score abstian``) is told the nearest one too."""
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as exc:
            if not isinstance(value, str) or "did you mean" in exc.message or "maybe you meant" in exc.message:
                raise
            if value == "help" and isinstance(action, argparse._SubParsersAction):
                hint = f"; a command's help is {self.prog} COMMAND --help"
            else:
                import difflib

                nearest = difflib.get_close_matches(value, [str(choice) for choice in action.choices], n=1)
                if not nearest:
                    raise
                hint = f"; did you mean {nearest[0]!r}?"
            raise argparse.ArgumentError(action, exc.message + hint) from None

    def parse_known_args(self, args=None, namespace=None):
        # -h is no option's value (argparse takes it for an option): given as a word before --, it asks for help;
        # satlearn's own only before the first other word (a command's -h, a mistyped command's "did you mean")
        texts = sys.argv[1:] if args is None else list(args)
        given = texts[:texts.index("--")] if "--" in texts else texts
        if any(isinstance(action, argparse._SubParsersAction) for action in self._actions):
            given = list(itertools.takewhile(lambda text: text.startswith("-"), given))
        self._asked_for_help = "-h" in given or "--help" in given
        parsed, unknown = super().parse_known_args(texts, namespace)
        # the first parser to return is the command's, whose namespace its parent copies: what it left over is the
        # command's to name, the rest (given before the command) satlearn's own
        if not hasattr(parsed, _LEFT_BY_COMMAND):
            setattr(parsed, _LEFT_BY_COMMAND, list(unknown))
        return parsed, unknown

    def parse_args(self, args=None, namespace=None):
        self._refuse_command_options_before_the_command(sys.argv[1:] if args is None else list(args))
        parsed, unknown = self.parse_known_args(args, namespace)
        if getattr(parsed, "command", "") is None:  # (argparse's "arguments are required: command" lists none)
            commands = next(action.choices for action in self._actions
                            if isinstance(action, argparse._SubParsersAction))
            *first, last = commands
            self.error(f"no command given; expected one of {', '.join(first)} or {last}")
        after_command = getattr(parsed, _LEFT_BY_COMMAND, [])
        delattr(parsed, _LEFT_BY_COMMAND)
        before_command = unknown[:len(unknown) - len(after_command)]
        if before_command:
            self.error(f"unrecognized arguments: {' '.join(before_command)}")
        if unknown:  # argparse's own error would name this parser: name the command they followed
            prog = f"{self.prog} {parsed.command}"
            own = self._own_option_among(after_command)
            if own is not None:  # its --help does not list it
                self.exit(2, f"{prog}: error: {own.option_strings[-1]} is an option of {self.prog} itself, given "
                             f"before the command: {self.prog} {self._shown(own)} {parsed.command} ... (options: "
                             f"{self.prog} --help)\n")
            self.exit(2, f"{prog}: error: unrecognized arguments: {' '.join(after_command)} (options: {prog} "
                         "--help)\n")
        return parsed

    def _refuse_command_options_before_the_command(self, texts: list[str]) -> None:
        """A command's option given before the command (``satlearn --config x.yaml train``), which argparse would
        report as the command being its value ("invalid choice: 'x.yaml'"), is named with where it goes."""
        commands = next((action.choices for action in self._actions
                         if isinstance(action, argparse._SubParsersAction)), {})
        position = next((i for i, text in enumerate(texts) if text in commands), None)
        if position is None or "--" in texts[:position]:
            return
        command = texts[position]
        for text in texts[:position]:
            name = text.split("=", 1)[0] if text.startswith("--") else text
            given = commands[command]._option_string_actions.get(name) if text.startswith("-") else None
            if given is not None and name not in self._option_string_actions:
                shown = " ".join([name, *([given.metavar or given.dest.upper()] if given.nargs != 0 else [])])
                self.exit(2, f"{self.prog}: error: {name} is an option of {self.prog} {command}, given before the "
                             f"command: {self.prog} {command} {shown} ... (options: {self.prog} {command} --help)\n")

    def _own_option_among(self, texts: list[str]) -> argparse.Action | None:
        """The first of this parser's options (``--import``, ``--import=MODULE``) among ``texts``, else None."""
        for text in texts:
            action = self._option_string_actions.get(text.split("=", 1)[0]) if text.startswith("--") else None
            if action is not None:
                return action
        return None

    @staticmethod
    def _shown(action: argparse.Action) -> str:
        return " ".join([action.option_strings[-1], *([action.metavar] if action.metavar else [])])


# where a command's parser leaves what it did not recognise, for satlearn's to tell from what came before the command
_LEFT_BY_COMMAND = "_left_by_command"


# how the epoch whose weights --best scores was picked, as eval and selective-eval say it alike
_BEST_EPOCH_PICK = ("picked by validation accuracy where the run held out data.val_size examples, else by test "
                    "accuracy (then an optimistic estimate)")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="satlearn", description="Self-Adaptive Training (SAT) for PyTorch.")
    parser.add_argument("--version", action="version", version=f"satlearn {__version__}")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (a module name, looked up from the current directory and "
                             "PYTHONPATH, or a .py file there): how a method, model or data source that your own "
                             "code registers reaches the command (repeatable)")
    commands = parser.add_subparsers(dest="command")  # (a missing one is named by _OneLineParser.parse_args)

    demo = _add_command(commands, "demo", "CE vs SAT on MNIST-1D with 40% symmetric label noise "
                                               "(under a minute on a CPU)")
    demo_dir = demo.add_mutually_exclusive_group()
    demo_dir.add_argument("--out", metavar="OUT_DIR", default=None,
                          help="output directory (default: runs/demo-<time>)")
    demo_dir.add_argument("--resume", metavar="OUT_DIR", default=None,
                          help="finish an interrupted demo with the settings it was started with")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _add_overrides(demo)

    train = _add_command(commands, "train", "train from a YAML config")
    train.add_argument("--config", "-c", default=None,
                       help="YAML file overriding the defaults, or the name of a recipe satlearn ships "
                            "(mnist1d_sat, cifar10_sat, ...: those of configs/)")
    train.add_argument("--run-dir", default=None, help="run directory (default: run.out_dir/run.name)")
    resume = train.add_mutually_exclusive_group()
    resume.add_argument("--resume", metavar="RUN_DIR", default=None,
                        help="continue an interrupted run from its checkpoint (config defaults to the run's own); "
                             "a finished run's damaged or missing outputs are written again from it")
    resume.add_argument("--resume-existing", action="store_true",
                        help="start the run in --run-dir (or run.out_dir/run.name), or resume the unfinished run "
                             "there as --resume does, where its config is this one apart from how it runs; a "
                             "finished run there is left as it is (exit status 0): one command for a batch job "
                             "that may be run again")
    train.add_argument("--no-progress", action="store_true",
                       help="hide the progress bar; print one line per epoch instead (the default where stderr "
                            "is no terminal: a log file)")
    _add_overrides(train)

    issues = _add_command(commands, "find-issues",
                          "list the labels that are probably wrong, from a SAT or selective SAT run (or a "
                          "run of a method of your own that keeps soft targets)")
    issues.add_argument("run_dir", nargs="?", default=None, metavar="RUN_DIR",
                        help="a finished run directory to reuse, of a method that keeps soft targets (sat, "
                             "selective_sat, or a TargetsMethod of your own)")
    issues.add_argument("--config", "-c", default=None,
                        help="train this config first (method.name sat, selective_sat, or a TargetsMethod of your "
                             "own, with --import): a YAML file, or the name of a recipe satlearn ships "
                             "(mnist1d_sat, cifar10_sat, ...)")
    issues.add_argument("--out", default=None, help="output directory (default: the run directory)")
    rule = issues.add_mutually_exclusive_group()
    rule.add_argument("--num-issues", type=_count, default=None, metavar="K",
                      help="flag exactly the K highest-scoring labels")
    rule.add_argument("--fraction", type=_fraction, default=None, metavar="F",
                      help="flag this fraction F of the labels trained on (all training labels, unless "
                           "data.val_size held some out), in [0, 1]")
    rule.add_argument("--threshold", type=_margin, default=None, metavar="M",
                      help="flag labels whose best other class leads the given one by more than M, in [-1, 1] "
                           "(default: 0)")
    issues.add_argument("--examples", type=_examples, default=DEFAULT_EXAMPLES, metavar="K",
                        help=f"picture the K flagged labels most likely wrong, in [0, {MAX_EXAMPLES}] (default "
                             f"{DEFAULT_EXAMPLES}; 0: none): their images or signals, titled with the given and "
                             "suggested class, into label_issues_examples.png; tabular features get no picture")
    issues.add_argument("--data-root", default=None,
                        help="with RUN_DIR: where the run's data are now, if they moved, for the picture of the "
                             "flagged examples (default: the run's data.root); the run checks that they are the "
                             "data it was trained on")
    issues.add_argument("--no-progress", action="store_true",
                        help="with --config: hide the progress bars (the training's, a data download's) and print "
                             "one line per epoch instead; with a RUN_DIR reused, the bar of a long read of its data "
                             "for the picture of the flagged examples")
    _add_overrides(issues)

    evaluate = _add_command(commands, "eval", "evaluate a run's latest weights on its test split (or its validation "
                                              "split)")
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (finished or not: its latest checkpoint)")
    evaluate.add_argument("--device", default=None, help="device to evaluate on (default: the run's run.device)")
    evaluate.add_argument("--data-root", default=None,
                          help="where the run's data are now, if they moved (default: the run's data.root); the "
                               "run checks that they are the data it was trained on")
    evaluate.add_argument("--out", default=None, help="JSON file to write, or a folder (existing, or ending in /) "
                                                      "for eval.json (default: RUN_DIR/eval.json; with --best, "
                                                      "eval_best.json; with --split val, eval_val.json or "
                                                      "eval_val_best.json)")
    evaluate.add_argument("--best", action="store_true",
                          help="score the weights of the run's best epoch instead (best_model.pt, which a run trained "
                               f"with run.keep_best: true keeps) into eval_best.json; {_BEST_EPOCH_PICK}")
    evaluate.add_argument("--split", choices=("test", "val"), default="test",
                          help="the split to score: test (the default), or val, the validation split the run held "
                               "out (data.val_size), against the labels given for it and, where the run knows them, "
                               "the true ones (val_clean_accuracy), into eval_val.json")
    _add_threads(evaluate)

    compare = _add_command(commands, "compare", "runs side by side: a table and one plot of their learning curves")
    compare.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                         help="run directories (finished or not), or directories that hold runs")
    compare.add_argument("--out", default=None,
                         help="plot file, its format from the suffix (.png, .pdf, .svg, ...; else PNG), or a folder "
                              "(existing, or ending in /) for compare.png (default: compare.png in the runs' common "
                              "parent, the run directory itself for one run, the current directory where the runs "
                              "share only the filesystem root)")
    compare.add_argument("--title", default="", help="plot title")
    compare.add_argument("--csv", default=None, metavar="FILE",
                         help="also write the runs as CSV, one row each (never a group's mean), with their seeds and "
                              "the settings in which they differ, accuracies as fractions, for pandas and the like; a "
                              "folder (existing, or ending in /) for compare.csv")
    compare.add_argument("--per-run", action="store_true",
                         help="a row and a curve for each run; by default, runs whose configs differ only in their "
                              "seeds (run.seed, data.noise.seed) and in where and how they ran are one row, the mean "
                              "± sample standard deviation of their figures, and one curve, their mean shaded from "
                              "the lowest to the highest run")

    selective = _add_command(
        commands, "selective-eval", "selective classification report: error at coverage, AURC, E-AURC, AUGRC, plot")
    selective.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                           help="run directories to compare (an unfinished one: its latest checkpoint, with a note), "
                                "or directories that hold runs")
    selective.add_argument("--score", choices=("auto", "abstain", "max_softmax"), default="auto",
                           help="selection score: abstain probability (auto, the default, for selective_sat/gamblers "
                                "runs) or 1 - max softmax (Softmax Response; auto for other runs)")
    selective.add_argument("--out", default=None,
                           help="output directory, one folder per run named after it (-2, -3, ... for a name met "
                                "again) and the plot (default: each run directory; the plot goes to their common "
                                "parent, the run directory itself for one run, the current directory where the runs "
                                "share only the filesystem root)")
    selective.add_argument("--device", default=None, help="device to evaluate on (default: the run's run.device)")
    selective.add_argument("--data-root", default=None,
                           help="where the runs' data are now, if they moved (default: each run's data.root); "
                                "each run checks that they are the data it was trained on")
    selective.add_argument("--best", action="store_true",
                           help="score the weights of each run's best epoch instead (best_model.pt, which a run "
                                "trained with run.keep_best: true keeps; a folder's runs that kept none are named "
                                "and left out) into selective_<score>_best.json, .csv, _curve.csv and "
                                f"risk_coverage_best.png; {_BEST_EPOCH_PICK}")
    selective.add_argument("--calibrate-on", choices=("test", "val"), default="test",
                           help="where each coverage's threshold is fitted: test (the default, the paper's "
                                "protocol) on a seeded part of the test split; val on the validation split the run "
                                "held out of its training examples (data.val_size; its given labels, noise and all), "
                                "reporting on the whole test split into selective_<score>_calibrated_val.json, .csv, "
                                "_curve.csv and risk_coverage_calibrated_val.png (a folder's runs that held out none "
                                "are named and left out)")
    _add_threads(selective)
    return parser


# the parsed arguments that name files or folders, as the user wrote them (a positional run_dir: RUN_DIR)
_PATH_ARGUMENTS = ("config", "run_dir", "resume", "out", "data_root", "run_dirs")

# what each command's --out names: files of their own, or a plot, that stdout is no place for (eval's JSON goes
# there already)
_OUT_TAKES = {"eval": "a JSON file or a folder (eval prints its JSON on stdout as well)",
              "compare": "a plot file or a folder", "selective-eval": "an output folder",
              "find-issues": "an output folder", "demo": "an output folder"}


def _check_path_arguments(args: argparse.Namespace) -> None:
    """Refuses a path given as empty text (an unset shell variable): read as a path it is the current directory,
    and an empty --resume or --data-root, read as none, would start a new run or be ignored. Refuses a --data-root
    that is not there."""
    from satlearn.errors import ConfigError

    for dest in _PATH_ARGUMENTS:
        values = getattr(args, dest, None)
        for value in values if isinstance(values, list) else [values]:
            if value is not None and not value.strip():
                positional = dest in ("run_dirs", "run_dir") and args.command != "train"
                name = "RUN_DIR" if positional else f"--{dest.replace('_', '-')}"
                raise ConfigError(f"{name} is empty; expected a path")
    if getattr(args, "out", None) == "-":  # stdout by convention, which would be a file or folder named - here
        raise ConfigError(f"--out -: expected {_OUT_TAKES[args.command]}, not stdout; for one named -, give ./-")
    if getattr(args, "run_dir", None) == "-" and args.command == "train":  # a run folder named - would be made
        raise ConfigError("--run-dir -: expected a run directory, not stdout; for one named -, give ./-")
    data_root = getattr(args, "data_root", None)
    # where a run's data are now is somewhere: a mistyped one would be taken as a new cache (MNIST-1D's) and made
    if data_root is not None and not user_path(data_root).exists():
        raise ConfigError(f"--data-root {data_root}: no such file or folder; expected where the run's data are now")


def _progress_hidden(args: argparse.Namespace) -> bool:
    """Whether a training command shows no progress bars: --no-progress; or stderr, where they are drawn, is no
    terminal (a batch job's log file, a pipe), unless a --set gives run.progress. In a file each redraw stays, a
    line of carriage returns and cursor moves, and a finished bar is erased: the epochs' figures would be nowhere in
    the log, where without bars one line per epoch tells them."""
    from satlearn.config import override_keys

    if args.no_progress:
        return True
    try:
        terminal = sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stream, or a closed one
        terminal = False
    return not terminal and not any("run.progress" in override_keys(text) for text in args.overrides)


def _progress_overrides(args: argparse.Namespace) -> list[str]:
    """The ``--set`` overrides of a training command with what its options ask of ``run.progress``: --no-progress,
    asked for, is recorded in the run's config, as a --set of it is."""
    return [*args.overrides, *(["run.progress=false"] if args.no_progress else [])]


def _progress_unasked(args: argparse.Namespace) -> bool | None:
    """False where a training command hides its progress bars only because stderr is no terminal (a batch job's
    log): a choice for this process's output, which fit is told apart from the config, so that the run's
    config.yaml does not keep it and a resumption in a terminal shows the bars. None: ``run.progress`` decides."""
    return False if _progress_hidden(args) and not args.no_progress else None


def _train(args: argparse.Namespace) -> int:
    from satlearn.config import given_by, load_config, override_keys
    from satlearn.engine import resume_config
    from satlearn.engine.runtime import check_device_here
    from satlearn.engine.trainer import (RunDirectoryBusy, demo_running_in, refuse_if_trained_elsewhere,
                                         resumed_run_place_overrides)
    from satlearn.errors import ConfigError, DataError, not_a_directory

    overrides = _progress_overrides(args)
    progress = _progress_unasked(args)
    if args.resume:
        if args.run_dir is not None:
            raise ConfigError(f"--run-dir {args.run_dir} with --resume {args.resume}: a resumed run stays in its own "
                              "directory; give only --resume")
        run_dir = user_path(args.resume)
        if not run_dir.is_dir():
            raise DataError(f"--resume {args.resume}: {not_a_directory(run_dir, 'run directory')}")
        # a run another process still loads the data of has written nothing yet: it is named as busy, not as no run
        try:
            refuse_if_trained_elsewhere(run_dir, resume=True)
        except RunDirectoryBusy:
            if not demo_running_in(run_dir):
                raise
            raise DataError(f"--resume {args.resume}: the output of a demo still running, not one run's directory; "
                            "the demo finishes its runs itself") from None
        if not (run_dir / "config.yaml").exists() and not (run_dir / "checkpoint.pt").exists():
            raise DataError(f"--resume {args.resume}: {_not_a_run_directory(run_dir, args)}")
        # the run is where --resume points, and its config says so (fit records that place too); given before the
        # config is checked, as the name it was started under may be one no longer accepted (an absolute path)
        for text in overrides:
            if {"run.name", "run.out_dir"} & set(override_keys(text)):
                raise ConfigError(f"--set {text}: a resumed run stays in {run_dir}, whose folder and name are its "
                                  "run.out_dir and run.name")
        if args.config is not None:
            config = load_config(args.config, [*resumed_run_place_overrides(run_dir), *overrides])
        else:  # the run's config.yaml, or where it is gone, the config its checkpoint keeps (in the run's place)
            config = resume_config(run_dir, overrides)
        check_device_here(config.run.device, given=given_by("run.device", overrides,
                                                            args.config or f"--resume {args.resume}"))
        return _resume(args, config, run_dir, progress)
    config = load_config(args.config, overrides)
    check_device_here(config.run.device, given=given_by("run.device", overrides, args.config or "defaults"))
    if args.resume_existing:
        return _start_or_resume(args, config, progress)
    return _start(args, config, args.run_dir, progress)


def _start(args: argparse.Namespace, config, run_dir: str | Path | None, progress: bool | None) -> int:
    """Trains ``config`` as a new run in ``run_dir`` (None: the config's), and prints its figures."""
    from satlearn.engine import fit
    from satlearn.engine.trainer import UnfinishedRunHere
    from satlearn.errors import TrainingError

    try:
        result = fit(config, run_dir, progress=progress)
    except UnfinishedRunHere:  # the library's words name no command to paste
        held = user_path(run_dir) if run_dir is not None else _named_run_dir(config)
        raise TrainingError(f"{held}: already holds an unfinished run; resume it with satlearn "
                            f"{_imports_given(args)}train --resume {pasteable_path(held)} (or start or resume alike "
                            "with --resume-existing), or choose another run.name / run directory") from None
    return _print_run_result(result)


def _named_run_dir(config) -> Path:
    """The run directory ``run.out_dir/run.name`` names, as fit names it (for a config with a run.name)."""
    return literal_path(user_path(config.run.out_dir) / config.run.name)


def _resume(args: argparse.Namespace, config, run_dir: Path, progress: bool | None) -> int:
    """Resumes the run in ``run_dir`` with ``config`` (fit checks that it is the run's own apart from how it runs),
    and prints its figures."""
    from satlearn.engine import fit
    from satlearn.errors import TrainingInterrupted

    args.resuming = True  # (a missing data error is told how the run finds its data now)
    try:
        result = fit(config, run_dir, resume=True, progress=progress)
    except KeyboardInterrupt as exc:
        if isinstance(exc, TrainingInterrupted):  # (it names the checkpoint it kept)
            raise
        # stopped while the run was set up to go on (its checkpoint read, its data loaded): it trained no further
        print("satlearn: interrupted before the run went on; its checkpoint is as it was: resume with satlearn "
              f"{_imports_given(args)}train --resume {pasteable_path(run_dir)}", file=sys.stderr)
        return INTERRUPTED
    return _print_run_result(result)


def _start_or_resume(args: argparse.Namespace, config, progress: bool | None) -> int:
    """``train --resume-existing``: a run directory that holds a checkpoint is resumed as ``--resume`` with
    ``--config`` resumes it (refused where the config is another training than the run's); one without gets a new
    run, as without the option (a run stopped before its first checkpoint starts again); a finished run is said to
    be so. A new run is refused, under the run directory's lock, where a checkpoint is there by then (another process
    wrote its first one, and let the run go, after the look here): the run is then resumed, or said to be finished,
    as if the checkpoint had been there at the look."""
    from satlearn.config import to_dict
    from satlearn.engine import fit, resume_config
    from satlearn.engine.checkpoint import CHECKPOINT_NAME
    from satlearn.engine.trainer import (
        FinishedRunHere, RunFinished, UnfinishedRunHere, config_differences, listed_differences,
    )
    from satlearn.errors import ConfigError, TrainingError

    if args.run_dir is None and config.run.name is None:
        raise ConfigError("--resume-existing needs the run's directory: give --run-dir DIR or a run.name (without "
                          "one each start would be a new time-stamped run)")
    run_dir = user_path(args.run_dir) if args.run_dir is not None else _named_run_dir(config)
    finished = f"{run_dir}: the run has finished; nothing left to train (its results are in summary.json)"
    if not (run_dir / CHECKPOINT_NAME).exists():
        if (run_dir / "summary.json").exists() and (run_dir / "config.yaml").exists():
            # a finished run whose checkpoint was removed (to save room): its config.yaml is what it trained
            differences = config_differences(to_dict(resume_config(run_dir)), to_dict(config))
            if differences:
                raise TrainingError(f"{run_dir}: holds a finished run of a different config "
                                    f"({listed_differences(differences)})")
            print(finished)
            return 0
        try:
            return _print_run_result(fit(config, run_dir, progress=progress))
        except (UnfinishedRunHere, FinishedRunHere):
            pass  # a checkpoint written since the look, found under the lock: the run is resumed from it
    try:
        return _resume(args, config, run_dir, progress)
    except RunFinished:
        print(finished)
        return 0


def _print_run_result(result) -> int:
    """Prints a finished training's figures, times and flagged labels."""
    s = result.summary
    # in percent, as the epochs' lines above it give the test accuracy
    print(f"final test accuracy {100 * s['final_test_accuracy']:.2f} % (best {100 * s['best_test_accuracy']:.2f} % "
          f"at epoch {s['best_epoch']}); {s['wall_seconds']:.1f} s; outputs in {result.run_dir}")
    held_out = s.get("validation")
    if held_out and held_out["best_epoch"]:  # the epoch a user picks without the test split, and its test figure
        # against the split's given labels, noise and all, as each epoch's line says
        print(f"best validation accuracy {100 * held_out['best_accuracy']:.2f} % (given labels) at epoch "
              f"{held_out['best_epoch']} (test accuracy there {100 * held_out['test_accuracy_at_best_epoch']:.2f} %)")
    t = s["timing"]
    epochs = f"training passes {t['train_pass_seconds']:.1f} s, evaluations {t['eval_seconds']:.1f} s"
    setup = f"set-up {t['setup_seconds']:.1f} s"
    rest = (f"between epochs {t['between_epochs_seconds']:.1f} s (checkpoints {t['checkpoint_wait_seconds']:.1f} s), "
            f"final outputs {t['finish_seconds']:.1f} s")
    if t["resumed"]:  # the epochs' sums cover every epoch; set-up and the rest only this process
        print(f"time: {epochs} (all epochs); this process: {setup}, {rest}")
    else:
        print(f"time: {setup}, {epochs}, {rest}")
    issues = s.get("label_issues")
    if issues:
        print(f"labels flagged as wrong: {issues['flagged']} (see {result.run_dir / 'refined_labels.csv'})")
    return 0


def _not_a_run_directory(directory: Path, args: argparse.Namespace) -> str:
    """What ``train --resume`` says of a folder without a run: a demo's output (the request its demo writes first,
    or the summary it writes last) is resumed as a whole, by ``demo --resume``; a folder of runs (``runs/``) is
    named with runs in it, as ``eval`` and ``find-issues`` name it."""
    from satlearn.demo import REQUEST_NAME, SUMMARY_NAME
    from satlearn.engine.checkpoint import runs_held

    if (directory / SUMMARY_NAME).exists():
        return f"the output of a finished demo, not one run's directory; nothing to resume (see {SUMMARY_NAME})"
    if (directory / REQUEST_NAME).exists():
        return ("the output of a demo, not one run's directory; finish the demo with satlearn "
                f"{_imports_given(args)}demo --resume {pasteable_path(directory)}")
    return runs_held(directory) or "not a satlearn run directory (no config.yaml, no checkpoint.pt)"


def _refuse_a_run_dir_that_holds_a_run(config) -> None:
    """find-issues --config trains a new run; where its named run directory holds one already, it says how to use
    that run (find-issues has no --resume, which the training's own refusal would point at) before loading data.
    One that another process trains is named as such first, as the training would name it: the run may have no
    checkpoint yet, and a --resume would be refused while it trains."""
    from satlearn.engine.checkpoint import CHECKPOINT_NAME
    from satlearn.engine.trainer import refuse_if_trained_elsewhere
    from satlearn.errors import ConfigError

    if config.run.name is None:  # a time-stamped name is a new directory
        return
    run_dir = literal_path(user_path(config.run.out_dir) / config.run.name)  # as fit names it
    if run_dir.is_dir():
        refuse_if_trained_elsewhere(run_dir, resume=False)
    if not (run_dir / CHECKPOINT_NAME).exists():
        return
    quoted = pasteable_path(run_dir)
    if (run_dir / "summary.json").exists():
        use = f"find its wrong labels with satlearn find-issues {quoted}"
    else:
        use = f"finish it with satlearn train --resume {quoted}, then run satlearn find-issues {quoted}"
    raise ConfigError(f"{run_dir}: already holds a run; {use}, or choose another run.name")


def _find_issues(args: argparse.Namespace) -> int:
    from satlearn.errors import ConfigError
    from satlearn.evaluation.detection import format_measure
    from satlearn.label_issues import find_label_issues, load_run_targets, write_label_issues

    if (args.run_dir is None) == (args.config is None):
        raise ConfigError("find-issues needs either a RUN_DIR to reuse or --config FILE to train (not both)")
    if args.run_dir is not None and args.overrides:
        raise ConfigError(f"--set {args.overrides[0]}: find-issues {args.run_dir} reuses a finished run, so there "
                          "is nothing to configure; --set goes with --config")
    if args.config is not None and args.data_root is not None:
        raise ConfigError(f"--data-root {args.data_root}: find-issues --config loads its data from the config's "
                          "data.root; --data-root goes with a RUN_DIR reused (--set data.root=PATH sets the config's)")
    if args.out is not None:  # a bad --out stops before the training
        from satlearn.engine.checkpoint import make_output_dir

        make_output_dir(args.out, what="--out", create=False)
    if args.config is not None:
        from satlearn.config import given_by, load_config
        from satlearn.data import load_dataset
        from satlearn.engine import fit
        from satlearn.engine.runtime import check_device_here

        progress = _progress_unasked(args)
        config = load_config(args.config, _progress_overrides(args))
        from satlearn.methods import methods_with_soft_targets

        with_targets = methods_with_soft_targets()
        if config.method.name not in with_targets:
            source = given_by("method.name", args.overrides, args.config)
            raise ConfigError(f"{source}: find-issues needs a method that keeps soft targets (method.name="
                              f"{' or '.join(with_targets)}), got {config.method.name!r}")
        _refuse_a_run_dir_that_holds_a_run(config)
        check_device_here(config.run.device, given=given_by("run.device", args.overrides, args.config))
        # a count that cannot fit the data stops before the training
        data = load_dataset(config.data, progress=config.run.progress if progress is None else progress)
        if config.data.val_size:  # one that leaves none to train on, in train's words, not as a count below one
            from satlearn.data.validation import validation_index

            validation_index(len(data.y_train), config.data.val_size, pick=config.data.val_pick,
                             seed=config.data.data_seed)
        trained = len(data.y_train) - config.data.val_size  # (a validation split's labels get no targets)
        if args.num_issues is not None and args.num_issues > trained:
            held = (f" outside the validation split (data.val_size={config.data.val_size})" if config.data.val_size
                    else "")
            raise ConfigError(f"--num-issues {args.num_issues}: the data have only {trained} training labels{held}")
        run_dir = fit(config, dataset=data, progress=progress).run_dir
    else:
        run_dir, data = user_path(args.run_dir), None
    run = load_run_targets(run_dir)
    if args.num_issues is not None and args.num_issues > len(run.labels):
        raise ConfigError(f"--num-issues {args.num_issues}: the run has only {len(run.labels)} training labels")
    issues = find_label_issues(run.labels, run.soft_targets, num_issues=args.num_issues, fraction=args.fraction,
                               margin_threshold=args.threshold, index=run.positions)
    out = user_path(args.out) if args.out else run_dir
    # the data trained on just now, else the run's, read (and checked) only where there is something to picture
    inputs, no_pictures = (None, None) if args.examples == 0 or issues.num_flagged == 0 else \
        _inputs_to_picture(run_dir, data, data_root=args.data_root, progress=not _progress_hidden(args))
    summary = write_label_issues(issues, out, true_labels=run.true_labels, class_names=run.class_names,
                                 origin=run.origin, inputs=None if inputs is None else inputs.x_train,
                                 examples=args.examples)
    print(f"{summary['num_flagged']} of {summary['num_examples']} labels flagged "
          f"({100 * summary['fraction_flagged']:.1f} %); list in {out / 'label_issues.csv'}")
    if summary["num_flagged"] == 0 and args.num_issues is None:  # a short run's targets may not have moved yet
        print("  --num-issues K flags the K labels most likely wrong, by score, whatever their margin")
    for pair in summary["most_confused_pairs"][:5]:
        print(f"  given {pair['given']} → suggested {pair['suggested']}: {pair['count']}")
    top = issues.ranked_indices[:5]
    if len(top):
        names = run.class_names or [str(c) for c in range(run.soft_targets.shape[1])]
        column, where = run.origin if run.origin is not None else ("index", issues.positions())
        print("flagged, most likely wrong first:")
        for i in top:
            given, suggested = names[issues.given_labels[i]], names[issues.suggested_labels[i]]
            # flagged by count or threshold, a label may still hold the most target mass: no other class to suggest
            moved = issues.given_labels[i] != issues.suggested_labels[i]
            change = f"given {given} → suggested {suggested}" if moved else f"given {given}, kept"
            print(f"  {column} {where[i]}: {change} (score {issues.scores[i]:.3f})")
    truth = summary.get("against_true_labels")
    if truth:  # an undefined measure (nothing flagged leaves precision and F1 so) shows as n/a
        shown = {key: format_measure(truth[key]) for key in ("precision", "recall", "f1", "average_precision", "auroc")}
        print(f"against the true labels: precision {shown['precision']}, recall {shown['recall']}, F1 {shown['f1']}, "
              f"average precision {shown['average_precision']}, AUROC {shown['auroc']}")
    if inputs is not None:
        pictured = min(args.examples, issues.num_flagged)
        print(f"the {pictured} flagged label{'s' if pictured > 1 else ''} most likely wrong, pictured: "
              f"{out / EXAMPLES_NAME}")
    elif no_pictures is not None:
        print(f"no {EXAMPLES_NAME}: {no_pictures}")
    return 0


def _inputs_to_picture(run_dir: Path, data, *, data_root: str | None, progress: bool) -> tuple:
    """The splits whose training inputs find-issues pictures, or None and why there are none: ``data``, loaded
    for the training just done, else the data of the run in ``run_dir`` (at ``data_root`` where given), as ``eval``
    loads them (checked against the run's digest, not downloaded again; ``progress``: a long read's bar). Any
    failure to read them is the reason, not the command's failure: the labels are scored without them."""
    from satlearn.errors import MissingDataError, SatlearnError
    from satlearn.label_issue_examples import why_no_pictures

    if data is None:
        from satlearn.engine.trainer import load_run_data

        try:
            data = load_run_data(run_dir, data_root=data_root, download=False, progress=progress).data
        except MissingDataError as exc:  # (its hint to download them is for a new run)
            moved = "" if data_root is not None else "; give where they are now with --data-root PATH"
            return None, f"the run's data are not at hand ({exc.message}){moved}"
        except SatlearnError as exc:
            return None, f"the run's data cannot be read ({exc})"
        except OSError as exc:  # (a file of the data unreadable: a source of the user's own may let one through)
            return None, f"the run's data cannot be read ({exc.strerror or exc}: {exc.filename})"
    why = why_no_pictures(data.kind, data.input_shape)
    return (None, f"{data.name}: {why}") if why else (data, None)


def _selective_eval(args: argparse.Namespace) -> int:
    from satlearn.selective import selective_eval

    # a folder's runs that kept no best epoch's weights, or held out no validation split: named after the runs
    # scored
    left_out: list[str] = []
    results, written, plot = selective_eval(args.run_dirs, score=args.score, out=args.out, device=args.device,
                                            data_root=args.data_root, threads=args.threads, best=args.best,
                                            calibrate_on=args.calibrate_on, log=left_out.append)
    held_out = args.calibrate_on == "val"
    # runs of one data source share their split's note: said once after them, not under each of twenty runs
    split_notes = {result.report["split"]["note"] for result in results}
    shared_note = split_notes.pop() if len(results) > 1 and len(split_notes) == 1 else None
    for result, paths in zip(results, written):
        report = result.report
        if held_out:
            # a threshold fitted elsewhere reaches on the test split a coverage near its target, not the target
            rows = {round(100 * row["target"]): row["deployed"] for row in report["coverages"]}
            at = ", ".join(f"{100 * rows[c]['error']:.2f} % at {100 * rows[c]['coverage']:.1f} % coverage (target "
                           f"{c} %)" for c in (95, 90, 80) if c in rows)
            missed = [row for row in report["coverages"] if not row["validation"]["within_tolerance"]]
        else:
            rows = {round(100 * row["target"]): row["test"] for row in report["coverages"]}
            # a coverage the bisection could not reach (few or tied scores) is given with the one it reached; each
            # figure with its unit, as "95%: 67.89" read as an error of 95 %
            at = ", ".join(f"{100 * rows[c]['error']:.2f} % at {c} % coverage"
                           + ("" if rows[c]["within_tolerance"] else f" (reached {100 * rows[c]['coverage']:.1f} %)")
                           for c in (95, 90, 80) if c in rows)
            missed = [row for row in report["coverages"] if not row["test"]["within_tolerance"]]
        metrics = report["metrics"]["test"]
        best = f", best epoch {report['epoch']}" if args.best else ""
        calibrated = ", thresholds fitted on its validation split" if held_out else ""
        print(f"{report['run_dir']} [{report['method']}, score {report['score']}{best}{calibrated}]: test error {at}; "
              f"AURC {1000 * metrics['aurc']:.2f}, E-AURC {1000 * metrics['e_aurc']:.2f}, "
              f"AUGRC {1000 * metrics['augrc']:.2f} (x1e-3); files {paths['json']}, {paths['csv'].name}, "
              f"{paths['curve'].name}")
        if report["split"]["note"] and shared_note is None:
            print(f"  note: {report['split']['note']}")
        if missed and held_out:
            print(f"  note: {len(missed)} of the {len(report['coverages'])} coverages were not reached on the "
                  "validation split within the tolerance (too few or tied scores); the CSV's val_coverage column "
                  "gives the coverage each reached")
        elif missed:
            print(f"  note: {len(missed)} of the {len(report['coverages'])} coverages were not reached on the test "
                  "part within the tolerance (too few or tied scores); the CSV's test_coverage column gives the "
                  "coverage each reached")
        latest = report.get("latest_epoch", report["epoch"])
        if latest < report["epochs"]:
            scored = (f"its best epoch so far (epoch {report['epoch']}; {latest} of {report['epochs']} trained)"
                      if args.best else f"its checkpoint after epoch {latest} of {report['epochs']}")
            print(f"  note: an unfinished run, evaluated at {scored}")
    if shared_note:
        print(f"note (each of the {len(results)} runs): {shared_note}")
    for line in left_out:
        print(line)
    print(f"risk-coverage plot: {plot}")
    return 0


TRAINING_COMMANDS = ("demo", "train", "find-issues")


def _check_single_process(environ) -> None:
    """satlearn trains in one process. Several started together (``torchrun --nproc_per_node``) would each train
    the whole run and write the same run directory, so they are stopped before anything is written."""
    from satlearn.errors import ConfigError

    world_size = environ.get("WORLD_SIZE", "").strip()
    if world_size not in ("", "0", "1"):
        raise ConfigError(f"WORLD_SIZE={world_size}: started as one of several processes (e.g. by torchrun), but "
                          "satlearn trains in a single process and each would write the same run directory; "
                          "start it once, without torchrun")


def _stdout_reader_left() -> bool:
    """Whether stdout is a pipe whose reader has gone (``satlearn compare ... | head``): flushing what is buffered
    fails so, and with nothing buffered, polling the pipe reports an error."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):
        return False
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        # Linux reports a pipe without a reader as an error, BSD and macOS as hung up
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll() (Windows), or stdout is no file (captured)
        return False


def _imports_given(args: argparse.Namespace) -> str:
    """The ``--import`` options of this command, each followed by a space, to repeat in a command to paste."""
    return "".join(f"--import {shell_quoted(module)} " for module in args.imports)


def _resume_hint(args: argparse.Namespace, exc: Exception) -> str:
    """Where a training stopped on a full disk in its run directory (``exc``, or the OSError it was raised from),
    what finishes it once there is room: its last checkpoint stays, as after Ctrl-C."""
    from satlearn.engine.checkpoint import CHECKPOINT_NAME

    full = exc if isinstance(exc, OSError) else exc.__cause__
    if args.command not in TRAINING_COMMANDS or not isinstance(full, OSError) or not full.filename or \
            full.errno not in (errno.ENOSPC, errno.EDQUOT):
        return ""
    run_dir = Path(full.filename).parent
    if not (run_dir / CHECKPOINT_NAME).is_file():
        return ""
    finish = (f"demo --resume {pasteable_path(run_dir.parent)}" if args.command == "demo"
              else f"train --resume {pasteable_path(run_dir)}")
    return (f"; the run's last checkpoint is kept: once there is room, finish it with satlearn "
            f"{_imports_given(args)}{finish}")


def _out_hint(args: argparse.Namespace, exc: OSError) -> str:
    """Where a command that writes beside a run could not write there (a read-only run directory, a full disk),
    the option that puts its outputs elsewhere."""
    unwritable = exc.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT) or (
        exc.errno in (errno.EACCES, errno.EPERM) and exc.filename is not None
        and not os.access(Path(exc.filename).parent, os.W_OK))
    if unwritable and args.command in ("eval", "find-issues", "selective-eval", "compare") and \
            getattr(args, "out", None) is None:
        return " (--out writes the outputs elsewhere)"
    return ""


def main(argv: list[str] | None = None) -> int:
    with _output_in_any_encoding(), _stdout_line_by_line():
        args = build_parser().parse_args(argv)
        if sys.stdout is None:  # how Python starts where stdout is closed (>&-): stopped before any work, not after
            print(f"satlearn: error: stdout is closed; expected somewhere to write {args.command}'s output "
                  "(>/dev/null discards it)", file=sys.stderr)
            return 2
        with stopped_as_by_ctrl_c() as stopped:
            code = _run(args)
    if stopped and code == INTERRUPTED:
        code = 128 + stopped[0]  # as the signal's default action would have ended it: 143 for SIGTERM
    try:  # what is still buffered: a pipe's reader that left shows here, after the command itself has finished
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        code = code or READER_LEFT  # a command that failed keeps its own status
    return code


def command_line() -> None:
    """The ``satlearn`` script and ``python -m satlearn``: :func:`main`, its status the process's. A command stopped
    by Ctrl-C, once it has said what it kept, ends by SIGINT, as Python itself ends on Ctrl-C: a shell reads that as
    status 130 all the same, and a shell loop running satlearn (a sweep's ``for``) stops there too, where a plain
    status of 130 would tell it that the command took care of Ctrl-C, and it would go on to the next run."""
    code = main()
    if code == INTERRUPTED and os.name == "posix":
        for stream in (sys.stdout, sys.stderr):  # what is buffered, which the signal would lose
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    sys.exit(code)


# satlearn's own typography, as ASCII, for an output whose encoding lacks it
_ASCII_STAND_INS = {"\u2014": "-", "\u2013": "-", "\u2212": "-", "\u2192": "->", "\u2190": "<-", "\u2265": ">=",
                    "\u2264": "<=", "\u2260": "!=", "\u00b1": "+/-", "\u00d7": "x", "\u2026": "...", "\u00b7": "."}
_STAND_IN_ERRORS = "satlearn.ascii_stand_ins"


def _ascii_stand_ins(exc: UnicodeError) -> tuple[bytes, int]:
    """An encoding error handler: a character the output's encoding lacks is written as its ASCII stand-in, a byte
    that an undecodable file name kept as a surrogate as that byte (as ``surrogateescape`` writes it), and any
    other as its escape (``\\u0434``, as ``backslashreplace`` writes it)."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    pieces = []
    for char in exc.object[exc.start:exc.end]:
        if "\udc80" <= char <= "\udcff":
            pieces.append(bytes([ord(char) - 0xdc00]))
        else:
            pieces.append(_ASCII_STAND_INS.get(char, char).encode("ascii", "backslashreplace"))
    return b"".join(pieces), exc.end


codecs.register_error(_STAND_IN_ERRORS, _ascii_stand_ins)


@contextlib.contextmanager
def _output_in_any_encoding():
    """stdout and stderr write what their encoding lacks with :func:`_ascii_stand_ins`, so that a command prints its
    table (``—`` where a value is missing), its arrows and a run directory's name to an output that cannot show
    them, where Python would stop it with a UnicodeEncodeError, as often after its work was done: a Windows console
    redirected to a file or pipe is cp1252, which has no ``→`` or ``−``, and a C locale's output is ASCII. An output
    in a Unicode encoding is left as it is."""
    changed = []
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if not hasattr(stream, "reconfigure") or not encoding or codecs.lookup(encoding).name.startswith("utf"):
            continue
        # (the stand-ins are ASCII bytes: every such encoding satlearn's output meets writes ASCII as ASCII)
        changed.append((stream, stream.errors))
        stream.reconfigure(errors=_STAND_IN_ERRORS)
    try:
        yield
    finally:
        for stream, errors in changed:
            # a stream closed meanwhile; or a pipe whose reader left, into which restoring flushes what is still
            # buffered: main's flush after this meets that pipe again and ends as any command's output does
            with contextlib.suppress(ValueError, BrokenPipeError):
                stream.reconfigure(errors=errors)


@contextlib.contextmanager
def _stdout_line_by_line():
    """stdout writes each line as it is printed, also where it is a file or a pipe (a batch job's log), which Python
    fills in blocks of kilobytes: such a log showed no epoch while the run trained, and a job then killed outright
    (SIGKILL after a scheduler's grace period, out of memory) lost every line it had printed. Restored after."""
    stream = sys.stdout
    if not hasattr(stream, "reconfigure") or getattr(stream, "line_buffering", True):
        yield
        return
    stream.reconfigure(line_buffering=True)
    try:
        yield
    finally:
        # (a stream closed meanwhile, or a pipe whose reader left, as _output_in_any_encoding's restoring meets)
        with contextlib.suppress(ValueError, BrokenPipeError):
            stream.reconfigure(line_buffering=False)


READER_LEFT = 141  # the status of a command stopped by a closed pipe (128 + SIGPIPE), as shell tools exit
INTERRUPTED = 130  # stopped by Ctrl-C (128 + SIGINT)

# SIGTERM: what a job scheduler, `timeout` or `docker stop` sends; SIGUSR1: what SLURM's --signal sends ahead of a
# job's time limit, whose default action ends a process at once, without a word of the checkpoint it kept
STOPPING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGUSR1") if hasattr(signal, name))


@contextlib.contextmanager
def stopped_as_by_ctrl_c():
    """:data:`STOPPING_SIGNALS` stop the command as Ctrl-C does: training keeps its last checkpoint and says how to
    resume. Yields a list that holds the signal once received."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield received
        return

    def stop(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, stop) for signum in STOPPING_SIGNALS}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _silence_stdout() -> None:
    # the interpreter flushes stdout again on exit, into the same closed pipe: give it somewhere to go
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _error_text(args: argparse.Namespace, exc: Exception) -> str:
    """The error's line. For a command that reads a run's data from the run's own data.root, missing data are told
    how to read them from where they are now, and not to set data.download, which such a command cannot change
    (eval and selective-eval take no --set; a resumed run refuses another data.download); a run's device that this
    machine lacks, how eval and selective-eval score it on another."""
    from satlearn.errors import DeviceUnavailable, MissingDataError

    if isinstance(exc, DeviceUnavailable) and args.command in ("eval", "selective-eval") and args.device is None:
        return f"{exc.message}; give --device auto or cpu"  # the run's own device: the option picks another
    if not isinstance(exc, MissingDataError):
        return str(exc)
    if args.command in ("eval", "selective-eval"):
        return exc.message + ("; or give where the run's data are now with --data-root PATH"
                              if args.data_root is None else "")
    if args.command == "train" and getattr(args, "resuming", False):
        return exc.message + "; or give where the run's data are now with --set data.root=PATH"
    return str(exc)


def _module_name(text: str) -> str:
    """``--import``'s MODULE as a module name: ``pkg/my_methods.py`` (a relative file) is ``pkg.my_methods``."""
    from satlearn.errors import ConfigError

    if not text.endswith(".py"):
        if "/" in text or os.sep in text:  # a path without its suffix: neither a module name nor a file
            raise ConfigError(f"--import {text}: {_what_a_path_may_mean(text)}")
        if not all(text.split(".")):  # empty, or a part of it: importlib raised ValueError or TypeError (.x)
            raise ConfigError(f"--import {text!r}: not a module name; expected a module name (pkg.my_methods) or a "
                              ".py file")
        if Path(text).is_file():  # a config given here, say: read as a module name, a.yaml is the module yaml of a
            raise ConfigError(f"--import {text}: a file, but no .py file; expected a module name (pkg.my_methods) or "
                              "a .py file")
        return text
    path = _under_current_directory(Path(text))
    if path is None:
        raise ConfigError(f"--import {text}: expected a module name or a .py file under the current directory "
                          "(put its folder on PYTHONPATH and give the module's name)")
    if not Path(text).is_file():  # else an import would look for its module on PYTHONPATH, and name that instead
        raise ConfigError(f"--import {text}: no such file")
    parts = path.with_suffix("").parts
    dotted = next((part for part in parts if "." in part), None)
    if dotted is not None:  # an import would read my.methods.py as the module methods of a package my
        raise ConfigError(f"--import {text}: {dotted!r} holds a dot, which Python's import reads as separating a "
                          "package from a module in it; give it a name without dots")
    return ".".join(parts)


def _what_a_path_may_mean(text: str) -> str:
    """What ``--import`` expects, for a path given without ``.py``: the file it may mean, or for a folder (a package),
    the module name that imports it where its name is one (``plugins/`` is no file ``plugins/.py``)."""
    expected = "expected a module name (pkg.my_methods) or a .py file"
    stem = text.rstrip("/" + os.sep)
    if stem == text and not Path(text).is_dir():
        return f"{expected} ({text}.py)"
    if not Path(text).is_dir():  # plugins/ mistyped: no folder to name a package of
        return f"no such folder; {expected}"
    relative = _under_current_directory(Path(stem)) if stem else None
    # only names Python's import reads as one package each (a.b/ would be the module b of a package a)
    importable = relative is not None and relative.parts and all(part.isidentifier() for part in relative.parts)
    package = f"; for the package in it, --import {'.'.join(relative.parts)}" if importable else ""
    return f"a folder; {expected}{package}"


def _under_current_directory(path: Path) -> Path | None:
    """``path`` relative to the current directory, or None where it lies outside. An absolute path in it (a shell's
    ``$PWD/plugins/x.py``) is in it too, also where the shell names the directory through a symbolic link."""
    cwd = Path.cwd()
    for full, base in ((Path(os.path.abspath(path)), cwd), (path.resolve(), cwd.resolve())):
        with contextlib.suppress(ValueError):
            return full.relative_to(base)
    return None


def import_user_modules(modules: list[str]) -> None:
    """Imports each ``--import`` module, with the current directory searched first, as ``python -m`` does (the
    installed ``satlearn`` script's own folder is searched instead). A module that cannot be found is one line;
    an error inside one that is found shows as Python's, in that module's code."""
    import importlib

    from satlearn.errors import ConfigError

    if not modules:
        return
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for text in modules:
        name = _module_name(text)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or name
            where = ("" if missing != name.split(".")[0] else
                     f" (looked in {os.getcwd()} and on PYTHONPATH)")
            raise ConfigError(f"--import {text}: no module named {missing!r}{where}") from None
        if text.endswith(".py"):
            _check_is_the_file(text, name, module)


def _check_is_the_file(text: str, name: str, module) -> None:
    """A ``.py`` file named as a module imported already (one of Python's own, such as ``copy.py`` or
    ``types.py``) gives that module, and the file registers nothing: say so rather than let the run report its
    method or model unknown."""
    from satlearn.errors import ConfigError

    found = getattr(module, "__file__", None)
    if found is not None and Path(found).resolve() == Path(text).resolve():
        return
    # a module built into Python (time, gc) has no file, and is no more the given file than copy.py's is
    taker = found or ("Python's built-in module" if name in sys.builtin_module_names else repr(module))
    raise ConfigError(f"--import {text}: the module name {name!r} is taken by {taker}, which Python imports instead "
                      "of this file; give the file another name")


def _run(args: argparse.Namespace) -> int:
    from satlearn.errors import SatlearnError, TrainingInterrupted

    try:
        _check_path_arguments(args)
        import_user_modules(args.imports)
        if args.command in TRAINING_COMMANDS:
            _check_single_process(os.environ)
        if getattr(args, "device", None) is not None:  # checked here, so that a bad one is named as the option
            from satlearn.engine.runtime import resolve_device

            resolve_device(args.device, setting="--device")
        if args.command == "demo":
            from satlearn.demo import run_demo

            run_demo(args.resume or args.out, overrides=tuple(args.overrides), progress=not _progress_hidden(args),
                     resume=args.resume is not None)
        elif args.command == "train":
            return _train(args)
        elif args.command == "find-issues":
            return _find_issues(args)
        elif args.command == "eval":
            from satlearn.engine import evaluate_run

            result = evaluate_run(args.run_dir, device=args.device, data_root=args.data_root, out=args.out,
                                  threads=args.threads, best=args.best, split=args.split)
            print(json.dumps(result, indent=2))
            latest = result.get("latest_epoch", result["epoch"])
            if latest < result["epochs"]:  # on stderr: the JSON on stdout stays readable by a program
                scored = (f"its best epoch so far (epoch {result['epoch']}; {latest} of {result['epochs']} trained)"
                          if args.best else f"its checkpoint after epoch {latest} of {result['epochs']}")
                print(f"note: an unfinished run, evaluated at {scored}", file=sys.stderr)
        elif args.command == "selective-eval":
            return _selective_eval(args)
        elif args.command == "compare":
            from satlearn.compare import compare_runs

            _, table, plot = compare_runs(args.run_dirs, out=args.out, title=args.title, group=not args.per_run,
                                          csv=args.csv)
            print(table)
            print(f"plot: {plot}")
            if args.csv is not None:
                from satlearn.engine.checkpoint import output_file

                print(f"csv: {output_file(args.csv, 'compare.csv', what='--csv')}")
    except SatlearnError as exc:
        print(f"satlearn: error: {_error_text(args, exc)}{_resume_hint(args, exc)}", file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:
        if args.command == "demo":  # either of its runs: the demo resumes as a whole
            print("satlearn: interrupted; finish the demo with satlearn demo --resume "
                  f"{pasteable_path(Path(exc.run_dir).parent)}",
                  file=sys.stderr)
        elif exc.checkpoint_epoch is None:
            print(f"satlearn: interrupted before the first checkpoint of {exc.run_dir}; nothing to resume, start "
                  "the run again", file=sys.stderr)
        else:
            print(f"satlearn: interrupted; the checkpoint after epoch {exc.checkpoint_epoch} is kept: resume with "
                  f"satlearn {_imports_given(args)}train --resume {pasteable_path(exc.run_dir)}", file=sys.stderr)
        return INTERRUPTED
    except KeyboardInterrupt:
        print("satlearn: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError as exc:
        if _stdout_reader_left():  # the reader of the output left: nothing went wrong here
            _silence_stdout()
            return READER_LEFT
        print(f"satlearn: error: {exc.strerror or exc}", file=sys.stderr)  # another pipe broke
        return 2
    except OSError as exc:  # a file the command had to read or write; the one line names it
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"satlearn: error: {where}{exc.strerror or exc}{_out_hint(args, exc)}{_resume_hint(args, exc)}",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # python -m satlearn.cli, as benchmarks/demo.py runs it: the same command
    command_line()
