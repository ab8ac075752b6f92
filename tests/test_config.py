import re

import numpy as np
import pytest

from fixtures import tiny_overrides
from satlearn.config import Config, check, load_config, overrides_from_dict, parse_override, to_dict
from satlearn.errors import ConfigError


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("section,key", [("run", "epoch"), ("data.noise", "raet"), ("", "epochs")])
def test_a_key_misspelt_in_code_is_refused_as_a_files_would_be(section, key):
    config = Config()
    target = config
    for part in filter(None, section.split(".")):
        target = getattr(target, part)
    setattr(target, key, 5)  # a new attribute beside the fields, which no run would read
    path = f"{section}.{key}" if section else key
    with pytest.raises(ConfigError, match=rf"^fit's config: unknown key '{re.escape(path)}'; valid keys here: "):
        check(config, source="fit's config")
    delattr(target, key)
    assert check(config, source="fit's config") == Config()


def test_numpy_numbers_set_in_code_are_taken_as_plain_ints_and_floats():
    from satlearn.config import dump_yaml, from_dict_exact
    from satlearn.yaml_text import read_yaml

    config = Config()
    config.run.epochs, config.method.start_epoch = np.int64(2), np.int64(1)  # values from a NumPy sweep
    config.optim.lr = np.float32(0.5)
    config.optim.weight_decay = np.int32(0)  # a whole number where a real is expected
    config.optim.milestones = list(np.array([1, 3]))
    checked = check(config, source="fit's config")
    values = (checked.run.epochs, checked.method.start_epoch, checked.optim.lr, checked.optim.weight_decay,
              *checked.optim.milestones)
    assert [type(value) for value in values] == [int, int, float, float, int, int]
    assert values == (2, 1, 0.5, 0.0, 1, 3)
    # what config.yaml holds reads back equal, as a resumed run compares it
    assert from_dict_exact(read_yaml(dump_yaml(checked))) == checked


def test_a_torch_device_set_in_code_is_taken_as_its_name():
    import torch

    from satlearn.config import dump_yaml, from_dict_exact
    from satlearn.yaml_text import read_yaml

    config = Config()
    config.run.device = torch.device("cpu")
    checked = check(config, source="fit's config")
    assert checked.run.device == "cpu" and type(checked.run.device) is str
    assert from_dict_exact(read_yaml(dump_yaml(checked))) == checked
    config.run.device = "cpu"
    config.data.root = torch.device("cpu")  # no device setting: refused, not taken as the path "cpu"
    with pytest.raises(ConfigError, match=r"^fit's config: data\.root: expected "):
        check(config, source="fit's config")
    config.data.root = None
    config.run.device = torch.device("meta")  # a device torch knows but no run trains on: named as before
    with pytest.raises(ConfigError, match=r"^fit's config: run\.device='meta' is not a device satlearn runs on"):
        check(config, source="fit's config")


@pytest.mark.parametrize("key,value,expected", [
    ("epochs", True, "int"), ("epochs", np.float64(2.0), "int"), ("progress", np.int64(1), "bool"),
    ("progress", np.bool_(True), "bool"),
])
def test_numpy_values_of_the_wrong_kind_set_in_code_are_still_refused(key, value, expected):
    config = Config()
    setattr(config.run, key, value)
    with pytest.raises(ConfigError, match=rf"^fit's config: run\.{key}: expected {expected}, got "):
        check(config, source="fit's config")


def test_yaml_and_overrides_apply_in_order(tmp_path):
    path = write(tmp_path, "method:\n  momentum: 0.8\nrun:\n  epochs: 30\n")
    config = load_config(path, ["run.epochs=20", "optim.schedule=step", "optim.milestones=[5, 10]",
                                "model.width=null"])
    assert config.method.momentum == 0.8 and config.run.epochs == 20
    assert config.optim.milestones == [5, 10] and config.model.width is None


def test_unknown_key_names_file_and_key(tmp_path):
    path = write(tmp_path, "method:\n  momentun: 0.8\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key 'method\.momentun'"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"unknown key 'nope'"):
        load_config(None, ["nope.x=1"])


def test_wrong_value_type(tmp_path):
    path = write(tmp_path, "run:\n  epochs: ten\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: run\.epochs: expected int, got 'ten'"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"run\.progress: expected bool"):
        load_config(None, ["run.progress=1"])
    with pytest.raises(ConfigError, match=r"^--set run\.keep_best=best: run\.keep_best: expected bool, got 'best'$"):
        load_config(None, ["run.keep_best=best"])
    assert load_config(None, ["run.keep_best=true"]).run.keep_best is True
    with pytest.raises(ConfigError, match=r"data\.noise must be a mapping"):
        load_config(None, ["data.noise=0.4"])


def test_a_choice_given_as_a_boolean_or_number_names_the_words_it_takes(tmp_path):
    # `amp: false` is YAML's boolean, not the word off
    path = write(tmp_path, "run:\n  amp: false\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: run\.amp: expected one of: auto, bf16, off, got false$"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"data\.pipeline: expected one of: auto, memory, reference, got 1$"):
        load_config(None, ["data.pipeline=1"])
    assert load_config(None, ["run.amp=off"]).run.amp == "off"  # the word itself (YAML 1.2: not a boolean)


def test_semantic_checks():
    with pytest.raises(ConfigError, match=r"method\.name='satt'; expected one of: erm, gamblers, sat, selective_sat"):
        load_config(None, ["method.name=satt"])
    with pytest.raises(ConfigError, match=r"data\.noise\.rate=1\.5"):
        load_config(None, ["data.noise.rate=1.5"])
    with pytest.raises(ConfigError, match="SAT would never start"):
        load_config(None, ["run.epochs=5", "method.start_epoch=5"])
    with pytest.raises(ConfigError, match=r"method\.loss='gce' is not available for method 'sat'"):
        load_config(None, ["method.loss=gce"])
    assert load_config(None, ["method.name=erm", "method.loss=gce"]).method.loss == "gce"
    with pytest.raises(ConfigError, match=r"run\.compile='yes'; expected true, false or auto"):
        load_config(None, ["run.compile=yes"])
    with pytest.raises(ConfigError, match=r"run\.compile: expected bool or str, got 1"):
        load_config(None, ["run.compile=1"])


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(write(tmp_path, "run: [\n"))
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read config file \(No such file or directory\)$"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="expected key.sub=value"):
        parse_override("run.epochs")


def test_a_file_of_two_yaml_documents_says_that_one_is_expected(tmp_path):
    # a --- line between two halves of a config: PyYAML says only "but found another document"
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML at line 3 \(expected a single document in the "
                                          r"stream but found another document\)$"):
        load_config(write(tmp_path, "optim:\n  lr: 0.1\n---\nrun:\n  epochs: 2\n"))
    assert load_config(write(tmp_path, "---\noptim:\n  lr: 0.1\n...\n")).optim.lr == 0.1  # one, marked as such


def last_line_with_text(text):
    return max(number for number, line in enumerate(text.splitlines(), 1) if line.strip())


ENDINGS = ["", "\n", "\n\n", "\n  \n"]  # none, the usual line break, blank lines after it


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("open_last_line", ["  milestones: [3, 6", '  schedule: "step', "  milestones: {a: 1",
                                            "  milestones: [3,"])  # (PyYAML marks its open item at the end)
def test_a_construct_left_open_on_the_last_line_is_reported_on_that_line(tmp_path, open_last_line, ending):
    # PyYAML marks the end of the text, one line past a file that ends in a line break
    text = "run:\n  epochs: 3\noptim:\n" + open_last_line + ending
    with pytest.raises(ConfigError, match=rf"c\.yaml: not valid YAML at line {last_line_with_text(text)} \(") as error:
        load_config(write(tmp_path, text))
    assert "begun at line" not in str(error.value)  # it begins on the line named


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("text, opening, what", [
    ('run:\n  name: "sat\n  epochs: 3', '"', r"found unexpected end of stream, while scanning a quoted scalar"),
    ("optim:\n  milestones: [3,\n    6\n# the second", "[",
     r"expected ',' or '\]', but got '<stream end>', while parsing a flow sequence"),
])
def test_a_construct_left_open_before_the_last_line_is_reported_there_and_where_it_begins(tmp_path, text, opening,
                                                                                           what, ending):
    text += ending
    begun = next(number for number, line in enumerate(text.splitlines(), 1) if opening in line)
    with pytest.raises(ConfigError, match=rf"c\.yaml: not valid YAML at line {last_line_with_text(text)} \({what} "
                                          rf"begun at line {begun}\)$"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("ending", ENDINGS)
def test_bad_indentation_on_the_last_line_is_reported_on_that_line(tmp_path, ending):
    text = "run:\n  epochs: 3\n   seed: 1" + ending  # one space too many: mapping values are not allowed here
    bad = next(number for number, line in enumerate(text.splitlines(), 1) if line.startswith("   seed"))
    with pytest.raises(ConfigError, match=rf"c\.yaml: not valid YAML at line {bad} \(mapping values"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("character", ["\x07", "\x00", "\ufffe"])
@pytest.mark.parametrize("ending", ENDINGS)
def test_a_character_yaml_does_not_allow_is_named_with_its_line(tmp_path, character, ending):
    text = f"run:\n  epochs: 3\n  name: a{character}b\noptim:\n  lr: 0.1" + ending
    bad = next(number for number, line in enumerate(text.splitlines(), 1) if character in line)
    with pytest.raises(ConfigError, match=rf"c\.yaml: not valid YAML at line {bad} \(unacceptable character "
                                          rf"#x{ord(character):04x}: special characters are not allowed\)$"):
        load_config(write(tmp_path, text))


# (a file's \r\n and \r reach PyYAML as \n: Python's text reading turns them into it)
@pytest.mark.parametrize("line_break", ["\x85", "\u2028", "\u2029"])
def test_lines_are_counted_at_every_line_break_yaml_reads_as_one(tmp_path, line_break):
    bad = "  name: a\x07b"
    lines = ["run:", "  epochs: 3", bad, "optim:", "  milestones: [3,", "    6", ""]
    path = tmp_path / "c.yaml"
    path.write_bytes(line_break.join(lines).encode("utf-8"))
    with pytest.raises(ConfigError, match=rf"at line {lines.index(bad) + 1} \(unacceptable character"):
        load_config(path)
    lines.remove(bad)
    path.write_bytes(line_break.join(lines).encode("utf-8"))
    with pytest.raises(ConfigError, match=rf"at line {lines.index('    6') + 1} \(.*, while parsing a flow sequence "
                                          rf"begun at line {lines.index('  milestones: [3,') + 1}\)$"):
        load_config(path)


def test_resolved_config_round_trips_through_overrides():
    config = load_config(None, ["optim.schedule=step", "optim.milestones=[3]", "data.noise.kind=symmetric",
                                "data.noise.rate=0.2"])
    again = load_config(None, overrides_from_dict(to_dict(config)))
    assert to_dict(again) == to_dict(config)
    assert to_dict(Config()) == to_dict(load_config(None))


def test_yaml_words_like_off_and_no_stay_strings(tmp_path):
    config = load_config(write(tmp_path, "run:\n  amp: off\n  progress: false\n"), ["run.name=no"])
    assert config.run.amp == "off" and config.run.name == "no" and config.run.progress is False


def test_exponent_floats_read_as_numbers(tmp_path):
    # YAML 1.1 wants a dot ("1.0e-3"); the way people write a learning rate has none
    config = load_config(write(tmp_path, "optim:\n  lr: 1e-3\n  weight_decay: 5E-4\n"), ["method.momentum=9e-1"])
    assert config.optim.lr == 0.001 and config.optim.weight_decay == 0.0005 and config.method.momentum == 0.9
    assert load_config(None, ["run.name=1e"]).run.name == "1e"  # not a number: stays a string


@pytest.mark.parametrize("text", ["2_0", "010", "0x10", "0b11", "1:20", "\u0663"])
def test_a_whole_number_setting_takes_only_a_sign_and_the_digits_0_to_9(text, tmp_path):
    # YAML 1.1 (and int()) would read these as numbers: 2_0 as 20, 010 as 8, 1:20 as 80, the Arabic-Indic three as 3;
    # a --set and a file say which key and value, as the command line says which option
    with pytest.raises(ConfigError, match=rf"^--set run\.epochs={re.escape(text)}: run\.epochs: expected int, got "
                                          rf"{re.escape(repr(text))}"):
        load_config(None, [f"run.epochs={text}"])
    with pytest.raises(ConfigError, match=rf"c\.yaml: run\.threads: expected int or null, got {re.escape(repr(text))}"):
        load_config(write(tmp_path, f"run:\n  threads: {text}\n"))
    assert load_config(None, [f"run.name={text}"]).run.name == text  # where text is expected, it is the text given


@pytest.mark.parametrize("text", ["2_0", "010", "0x10", "\u0663"])
def test_a_text_python_reads_as_a_whole_number_given_for_one_says_how_a_whole_number_is_written(text, tmp_path):
    # run.threads takes null too: its message is made where each of int and null has refused the text
    hint = re.escape(" (a whole number is written with the digits 0-9 alone, without _ or a leading 0)")
    with pytest.raises(ConfigError, match=rf"run\.epochs: expected int, got {re.escape(repr(text))}{hint}$"):
        load_config(None, [f"run.epochs={text}"])
    with pytest.raises(ConfigError, match=rf"run\.threads: expected int or null, got {re.escape(repr(text))}{hint}$"):
        load_config(write(tmp_path, f"run:\n  threads: {text}\n"))


def test_a_number_in_quotes_says_that_the_quotes_make_it_text(tmp_path):
    hint = re.escape(" (a number in quotes is text: write it without them)")
    with pytest.raises(ConfigError, match=rf"c\.yaml: run\.epochs: expected int, got '10'{hint}$"):
        load_config(write(tmp_path, 'run:\n  epochs: "10"\n'))
    with pytest.raises(ConfigError, match=rf"c\.yaml: optim\.lr: expected float, got '1e-3'{hint}$"):
        load_config(write(tmp_path, "optim:\n  lr: '1e-3'\n"))
    with pytest.raises(ConfigError, match=rf"^--set run\.threads='4': run\.threads: expected int or null, got "
                                          rf"'4'{hint}$"):
        load_config(None, ["run.threads='4'"])


def test_a_whole_number_is_read_with_its_sign():
    assert [load_config(None, [f"run.seed={text}"]).run.seed for text in ("+7", "-0", "0", "12")] == [7, 0, 0, 12]


@pytest.mark.parametrize("text", ["2_0", "010", "0x10", ""])
def test_a_text_tagged_int_that_is_no_whole_number_as_written_here_is_refused(text, tmp_path):
    shown = re.escape(f"!!int {text}".strip())  # an empty one is named as the tag alone, as !!float is
    with pytest.raises(ConfigError, match=rf"^--set run\.epochs=!!int {re.escape(text)}: {shown}: "
                                          "expected a whole number"):
        parse_override(f"run.epochs=!!int {text}")
    with pytest.raises(ConfigError, match=rf"c\.yaml: not valid YAML at line 2 \({shown}: expected"):
        load_config(write(tmp_path, f"run:\n  epochs: !!int {text}\n"))


@pytest.mark.parametrize("text", ["1_0.5", "1:20.5", "2_0.", "1_0e-3"])
def test_a_float_setting_takes_only_the_digits_0_to_9_with_a_dot_or_an_exponent(text, tmp_path):
    # YAML 1.1 reads these as 10.5, 80.5 (base 60), 20.0 and 0.01, as it read 2_0 and 1:20 as whole numbers
    with pytest.raises(ConfigError, match=rf"^--set optim\.lr={re.escape(text)}: optim\.lr: expected float, got "
                                          rf"{re.escape(repr(text))}"):
        load_config(None, [f"optim.lr={text}"])
    with pytest.raises(ConfigError, match=rf"c\.yaml: optim\.lr: expected float, got {re.escape(repr(text))}"):
        load_config(write(tmp_path, f"optim:\n  lr: {text}\n"))
    assert load_config(None, [f"run.name={text}"]).run.name == text


@pytest.mark.parametrize("text", ["0.5", ".5", "5.", "5e-1", "+0.5", "05.0", "5.0E-1", "+.5e0"])
def test_a_float_written_with_a_dot_or_an_exponent_reads_as_one(text):
    assert load_config(None, [f"method.sce_b={text}"]).method.sce_b == float(text)


@pytest.mark.parametrize("text", ["1_0", "1:20", "inf", "nan"])
def test_a_text_tagged_float_that_is_no_number_as_written_here_is_refused(text, tmp_path):
    with pytest.raises(ConfigError, match=rf"c\.yaml: not valid YAML at line 2 \(!!float {text}: expected a number"):
        load_config(write(tmp_path, f"optim:\n  lr: !!float {text}\n"))
    assert load_config(None, ["optim.lr=!!float 1"]).optim.lr == 1.0  # a whole number is a float's text too


@pytest.mark.parametrize("text, hint", [("1_0.5", "without _"), ("0x10", "without _"),
                                        ("-.5", "write a 0 before the dot"), ("+.5", "write a 0 before the dot")])
def test_a_text_python_reads_as_a_number_given_for_a_float_says_how_a_number_is_written(text, hint):
    with pytest.raises(ConfigError, match=rf"got {re.escape(repr(text))} \(.*{hint}"):
        load_config(None, [f"optim.lr={text}"])


@pytest.mark.parametrize("text", ["inf", "nan", "Infinity", "-inf"])
def test_an_infinity_or_nan_as_python_writes_it_gets_no_hint_on_how_a_number_is_written(text):
    # such a text is no number mistyped: the float setting refuses it as the text it is
    with pytest.raises(ConfigError, match=rf"optim\.lr: expected float, got {re.escape(repr(text))}$"):
        load_config(None, [f"optim.lr={text}"])


@pytest.mark.parametrize("text", ["1.2.3", "0.5.", "1.5rc1", "2e5x", "1e+3+", ".5.5"])
def test_a_text_that_begins_as_a_float_does_is_text(text):
    # a version such as 1.2.3 is a name, not a float YAML then fails to read
    assert load_config(None, [f"run.name={text}"]).run.name == text


@pytest.mark.parametrize("text", ["5e+0", "5.0E+0", "+.5e+1"])
def test_a_float_with_a_plus_sign_in_its_exponent_reads_as_one(text, tmp_path):
    assert load_config(None, [f"method.sce_b={text}"]).method.sce_b == float(text)
    assert load_config(write(tmp_path, f"method:\n  sce_b: !!float {text}\n")).method.sce_b == float(text)


@pytest.mark.parametrize("text", [".inf", ".Inf", ".INF", "+.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"])
def test_every_spelling_of_infinity_and_nan_in_yaml_is_read_as_a_float(text):
    # and refused as one, by name; as text, run.name takes none of them
    shown = re.escape(str(float(text.replace(".", "", 1))))
    with pytest.raises(ConfigError, match=rf"^--set optim\.lr={re.escape(text)}: optim\.lr={shown}; expected a finite"):
        load_config(None, [f"optim.lr={text}"])
    with pytest.raises(ConfigError, match=rf"run\.name: expected str or null, got {shown}$"):
        load_config(None, [f"run.name={text}"])


def test_a_text_that_looks_like_a_number_is_written_so_that_it_reads_back_as_the_same_text():
    # a run's config.yaml and a --set from overrides_from_dict hold such a name; old ones were written by YAML 1.1's
    # rules, which read 09 as text and quoted 010
    from satlearn.yaml_text import read_yaml, write_yaml

    for text in ("09", "010", "-08", "2_0", "0x10", "1:20", "+5", "12", "1_0.5", "1:20.5", "-.5", "+.5", "1e3"):
        assert read_yaml(write_yaml({"name": text})) == {"name": text}, text
        assert load_config(None, overrides_from_dict({"run": {"name": text}})).run.name == text, text


def test_a_key_given_twice_is_an_error_not_a_silent_overwrite(tmp_path):
    path = write(tmp_path, "optim:\n  lr: 0.1\nrun:\n  epochs: 3\noptim:\n  name: sgd\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML at line 5 \(duplicate key 'optim', first given "
                                          r"at line 1\)"):
        load_config(path)
    with pytest.raises(ConfigError, match="duplicate key 'lr'"):
        load_config(write(tmp_path, "optim:\n  lr: 0.1\n  lr: 0.2\n"))


def test_an_error_names_the_override_that_set_the_bad_value(tmp_path):
    path = write(tmp_path, "optim:\n  lr: 0.003\n")
    with pytest.raises(ConfigError, match=r"^--set optim\.lr=-1: optim\.lr=-1\.0; expected a positive number"):
        load_config(path, ["optim.lr=-1"])
    with pytest.raises(ConfigError, match=r"^--set optim=\{lr: -2\}: optim\.lr=-2\.0"):
        load_config(path, ["optim={lr: -2}"])
    with pytest.raises(ConfigError, match=r"^--set run\.epochs=3: method\.start_epoch=12 is not below run\.epochs=3"):
        load_config(path, ["run.epochs=3"])
    # a bad value from the file is still the file's
    with pytest.raises(ConfigError, match=r"c\.yaml: optim\.lr=-1\.0"):
        load_config(write(tmp_path, "optim:\n  lr: -1\n"), ["run.epochs=30"])


def test_ranges_of_loss_and_schedule_options():
    for override, message in [("optim.gamma=-1", r"optim\.gamma=-1\.0; expected a positive factor"),
                              ("optim.gamma=0", r"optim\.gamma=0\.0"),
                              ("optim.milestones=[-1]", r"optim\.milestones=\[-1\]; expected epochs of at least 1"),
                              ("optim.milestones=[5, 3]", r"in increasing order"),
                              ("method.gce_q=0", r"method\.gce_q=0\.0; expected a value in \(0, 1\]"),
                              ("method.gce_q=1.5", r"method\.gce_q=1\.5"),
                              ("method.sce_b=-5", r"method\.sce_b=-5\.0; expected a non-negative number")]:
        with pytest.raises(ConfigError, match=message):
            load_config(None, [override])
    with pytest.raises(ConfigError, match="both 0"):
        load_config(None, ["method.sce_a=0", "method.sce_b=0"])
    config = load_config(None, ["optim.schedule=step", "optim.milestones=[10, 20]", "optim.gamma=0.2",
                                "method.gce_q=1", "method.sce_a=0"])
    assert config.optim.milestones == [10, 20] and config.method.gce_q == 1.0


@pytest.mark.parametrize("milestones, gamma, message", [
    ("[0]", "0.1", r"optim\.milestones=\[0\]; expected epochs of at least 1 in increasing order$"),
    ("[3, 3]", "0.1", r"optim\.milestones=\[3, 3\]; expected epochs of at least 1 in increasing order$"),
    ("[3]", "0", r"optim\.gamma=0\.0; expected a positive factor"),
])
def test_a_step_schedule_refuses_milestones_that_are_not_epochs_in_increasing_order_and_a_zero_gamma(milestones, gamma,
                                                                                                    message):
    # with the step schedule on, so that the range check answers and not the one for settings it switches off
    with pytest.raises(ConfigError, match=message):
        load_config(None, ["optim.schedule=step", f"optim.milestones={milestones}", f"optim.gamma={gamma}"])


def test_the_closed_ends_of_each_range_are_taken():
    # (SAT's α = 0 with SCE: with cross-entropy it is refused, see below)
    config = load_config(None, ["data.noise.kind=symmetric", "data.noise.rate=1", "optim.name=sgd",
                                "optim.momentum=0", "optim.weight_decay=0", "method.momentum=0", "method.loss=sce",
                                "optim.schedule=step", "optim.milestones=[1, 2]"])
    assert (config.data.noise.rate, config.optim.momentum, config.optim.weight_decay, config.method.momentum) == \
        (1.0, 0.0, 0.0, 0.0)
    assert config.optim.milestones == [1, 2]
    assert load_config(None, ["data.noise.kind=symmetric", "data.noise.rate=0"]).data.noise.rate == 0.0


def test_sat_with_cross_entropy_refuses_a_target_momentum_of_0_which_leaves_it_no_gradient(tmp_path):
    # each target would be the model's own prediction p, and the soft cross-entropy's gradient softmax(z) - p is 0:
    # from method.start_epoch on the run would train nothing, silently
    message = (r"method\.momentum=0 with method\.loss=ce makes each target the model's own prediction, on which "
               r"SAT's cross-entropy has no gradient, so nothing would train from method\.start_epoch on; expected a "
               r"momentum in \(0, 1\)$")
    with pytest.raises(ConfigError, match=rf"^--set method\.momentum=0: {message}"):
        load_config(None, ["method.momentum=0"])
    path = write(tmp_path, "method:\n  momentum: 0.0\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: {message}"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"^--set method\.momentum=0: method\.momentum=0 with method\.loss=sce and "
                                          r"method\.sce_b=0 makes each target"):  # SCE without its reverse term
        load_config(None, ["method.momentum=0", "method.loss=sce", "method.sce_b=0"])
    # SCE's reverse term and selective SAT's abstain target still give a gradient
    assert load_config(None, ["method.momentum=0", "method.loss=sce"]).method.momentum == 0.0
    assert load_config(None, ["method.momentum=0", "method.name=selective_sat"]).method.momentum == 0.0
    assert load_config(None, ["method.momentum=1e-9"]).method.momentum == 1e-9


def test_an_empty_config_file_or_one_of_comments_only_gives_the_defaults(tmp_path):
    assert to_dict(load_config(write(tmp_path, ""))) == to_dict(Config())
    assert to_dict(load_config(write(tmp_path, "# every setting at its default\n"))) == to_dict(Config())


def test_a_config_file_that_is_not_a_mapping_of_sections_is_one_line_naming_it(tmp_path):
    expected = r"c\.yaml: expected a mapping of sections \(data, model, \.\.\.\), got "
    with pytest.raises(ConfigError, match=expected + "list$"):
        load_config(write(tmp_path, "- run\n- epochs: 3\n"))
    with pytest.raises(ConfigError, match=expected + "str$"):
        load_config(write(tmp_path, "run.epochs=3\n"))  # a --set written into a file
    from satlearn.config import config_from_dict

    with pytest.raises(ConfigError, match=r"^settings\.json: expected a mapping of sections \(data, model, "
                                          r"\.\.\.\), got \['run'\]$"):
        config_from_dict(["run"], source="settings.json")
    assert config_from_dict({"run": {"epochs": 50}}).run.epochs == 50


def test_a_section_left_empty_or_given_a_value_is_named_in_yaml_words(tmp_path):
    # every key of a section commented out leaves the section null, as YAML writes it (Python's None is no YAML)
    with pytest.raises(ConfigError, match=r"c\.yaml: data\.noise must be a mapping of its keys, got null$"):
        load_config(write(tmp_path, "data:\n  noise:\n    # kind: symmetric\n"))
    with pytest.raises(ConfigError, match=r"^--set run=true: run must be a mapping of its keys, got true$"):
        load_config(None, ["run=true"])


def test_a_mapping_takes_overrides_as_a_file_does_and_an_error_names_the_override():
    from satlearn.config import config_from_dict

    saved = {"run": {"epochs": 50}, "method": {"start_epoch": 10}}
    assert config_from_dict(saved, overrides=["run.epochs=60"]).run.epochs == 60
    with pytest.raises(ConfigError, match=r"^--set run\.epochs=5: method\.start_epoch=10 is not below run\.epochs=5"):
        config_from_dict(saved, source="saved", overrides=["run.epochs=5"])
    with pytest.raises(ConfigError, match=r"^overrides='run\.epochs=5'; expected a list"):
        config_from_dict(saved, overrides="run.epochs=5")


def test_an_override_splits_at_its_first_equals_sign_and_its_key_is_stripped():
    assert parse_override("run.name=lr=0.1") == ("run.name", "lr=0.1")
    assert load_config(None, ["run.name=lr=0.1"]).run.name == "lr=0.1"
    assert parse_override(" run.epochs = 3") == ("run.epochs", 3)


def test_the_keys_an_override_sets_are_its_leaves_and_an_empty_mapping_is_one():
    from satlearn.config import override_keys

    assert override_keys("optim={lr: 1, gamma: 0.5}") == ["optim.lr", "optim.gamma"]
    assert override_keys("method.settings={}") == ["method.settings"]  # it sets the method's settings to none
    assert override_keys("run.epochs=3") == ["run.epochs"]


def test_the_last_epochs_seed_must_fit_too_not_only_the_first():
    import torch

    from satlearn.config import EPOCH_SEED_STRIDE

    # the largest run seed whose epoch-0 seed fits in 64 bits, with just enough epochs for the last one not to
    seed = (2**64 - 1) // EPOCH_SEED_STRIDE
    epochs = 2**64 - seed * EPOCH_SEED_STRIDE + 1
    with pytest.raises((RuntimeError, ValueError)):  # what the loader's generator would do in the run's last epoch
        torch.Generator().manual_seed(seed * EPOCH_SEED_STRIDE + epochs - 1)
    with pytest.raises(ConfigError, match=rf"^--set run\.seed={seed}: run\.seed={seed}; expected a seed from"):
        load_config(None, [f"run.epochs={epochs}", f"run.seed={seed}"])


def test_more_epochs_than_any_run_seed_can_number_is_an_error_about_the_epochs():
    from satlearn.config import EPOCH_SEED_STRIDE

    lowest = -(2**63 // EPOCH_SEED_STRIDE)
    most = 2**64 - 1 - lowest * EPOCH_SEED_STRIDE  # with the lowest seed, the last epoch's seed is 2**64 - 1
    assert load_config(None, [f"run.epochs={most}", f"run.seed={lowest}"]).run.epochs == most
    with pytest.raises(ConfigError, match=rf"^--set run\.epochs={most + 1}: run\.epochs={most + 1}; expected at most "
                                          rf"{most} \("):
        load_config(None, [f"run.epochs={most + 1}"])  # (not: run.seed=0; expected a seed from ... to a negative one)


def test_merge_keys_still_merge_and_unhashable_keys_give_one_line(tmp_path):
    path = write(tmp_path, "base: &base {epochs: 3, seed: 1}\nrun:\n  <<: *base\n  seed: 2\n", name="m.yaml")
    from satlearn.yaml_text import read_yaml

    assert read_yaml(path.read_text())["run"] == {"epochs": 3, "seed": 2}  # the own key overrides the merged one
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML at line 1 .*unhashable"):
        load_config(write(tmp_path, "? [1, 2]\n: 3\n"))
    with pytest.raises(ConfigError, match=r"^--set run=\{\[1\]: 2\}: run must be a mapping"):
        load_config(None, ["run={[1]: 2}"])


def test_written_configs_read_back_whatever_their_strings_look_like():
    from satlearn.config import dump_yaml, from_dict_exact
    from satlearn.yaml_text import read_yaml

    config = Config()
    config.run.name, config.data.noise.key, config.run.out_dir = "1e3", "2E5", "off"
    again = from_dict_exact(read_yaml(dump_yaml(config)))
    assert (again.run.name, again.data.noise.key, again.run.out_dir) == ("1e3", "2E5", "off")
    overrides = overrides_from_dict({"run": {"name": "1e-3", "out_dir": "no"}})
    assert load_config(None, overrides).run.name == "1e-3"


def test_a_method_check_blames_the_key_it_is_about_not_another_override(tmp_path):
    path = write(tmp_path, "method:\n  name: sat\n  loss: gce\n")
    with pytest.raises(ConfigError, match=r"^\S*c\.yaml: method\.loss='gce' is not available"):
        load_config(path, ["run.epochs=20", "method.targets_device=cpu"])
    with pytest.raises(ConfigError, match=r"^--set method\.payoff=0\.5: method\.payoff=0\.5"):
        load_config(None, ["run.epochs=20", "method.name=gamblers", "method.payoff=0.5"])


def test_an_override_with_a_key_twice_says_so():
    with pytest.raises(ConfigError, match=r"--set optim=\{lr: 1, lr: 2\}: duplicate key 'lr'"):
        parse_override("optim={lr: 1, lr: 2}")
    # other text YAML cannot read stays the text it is
    assert parse_override("run.name=!foo") == ("run.name", "!foo")
    assert parse_override("run.name=a: b: c") == ("run.name", "a: b: c")


@pytest.mark.parametrize("override, left", [("run.name=#1", "null"), ("run.name=trial #2", "'trial'"),
                                            ("data.ignore_columns=[id] # the key", "['id']")])
def test_an_override_whose_value_yaml_would_cut_at_a_comment_is_refused(override, left):
    # the shell passes a # inside an argument on: a run named #1 would silently get a time-stamped name instead
    key, value = override.split("=", 1)
    quoted = re.escape(f"""'{key}="{value}"'""")
    with pytest.raises(ConfigError, match=rf"^--set {re.escape(override)}: YAML reads '#.*' as a comment and drops "
                                          rf"it, leaving {re.escape(left)}; .*--set {quoted}$"):
        load_config(None, [override])
    # a # inside a word or inside quotes is part of the value
    assert parse_override("run.name=trial#2") == ("run.name", "trial#2")
    assert parse_override("run.name='trial #2'") == ("run.name", "trial #2")
    assert parse_override(overrides_from_dict({"run": {"name": "#1"}})[0]) == ("run.name", "#1")


@pytest.mark.parametrize("override, message", [
    ("method.momentum=1.0", r"^--set method\.momentum=1\.0: method\.momentum=1\.0; expected a value in \[0, 1\)$"),
    ("method.momentum=-0.1", r"method\.momentum=-0\.1; expected a value in \[0, 1\)$"),
    ("run.epochs=true", r"run\.epochs: expected int, got true$"),  # bool is an int subclass in Python
    ("data.batch_size=0", r"^--set data\.batch_size=0: data\.batch_size=0; expected a positive number$"),
    ("data.test_fraction=1.0", r"data\.test_fraction=1\.0; expected a fraction in \(0, 1\)$"),
    ("data.test_fraction=0", r"data\.test_fraction=0\.0; expected a fraction in \(0, 1\)$"),
    ("optim.lr=true", r"^--set optim\.lr=true: optim\.lr: expected float, got true$"),  # not taken for 1.0
    ("data.ignore_columns=id", r"^--set data\.ignore_columns=id: data\.ignore_columns: expected list of str, got "
                               r"'id'$"),  # not read as the columns i and d
    ("run.eval_every=0", r"^--set run\.eval_every=0: run\.eval_every=0; expected a positive number$"),
    ("model.width=0", r"^--set model\.width=0: model\.width=0; expected a positive number$"),
    ("optim.weight_decay=-0.1", r"^--set optim\.weight_decay=-0\.1: optim\.weight_decay=-0\.1; expected a "
                                r"non-negative number$"),
    ("data.noise.kind=file", r"^--set data\.noise\.kind=file: data\.noise\.kind=file needs data\.noise\.file \(a "
                             r"path to the label array\)$"),
])
def test_values_out_of_range_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_a_tagged_override_whose_text_does_not_fit_the_tag_is_one_line():
    with pytest.raises(ConfigError, match=r"^--set model.width=!!int abc: .*abc"):
        parse_override("model.width=!!int abc")


# PyYAML's own constructors fail on these with a ValueError, KeyError, AttributeError or IndexError naming no place
@pytest.mark.parametrize("tagged, expected", [
    ("!!float abc", "a number"), ("!!float", "a number"), ("!!bool maybe", "true or false"),
    ("!!timestamp x", "a date"), ("!!timestamp 2020-13-45", "a date"), ("[1, !!float abc]", "a number"),
])
def test_a_tagged_value_whose_text_does_not_fit_the_tag_is_one_line_naming_its_place(tagged, expected, tmp_path):
    shown = re.escape(tagged.strip("[]").split(", ")[-1])
    path = write(tmp_path, f"run:\n  epochs: 3\noptim:\n  lr: {tagged}\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: not valid YAML at line 4 \({shown}: expected "
                                          rf"{expected}"):
        load_config(path)
    with pytest.raises(ConfigError, match=rf"^--set optim\.lr={re.escape(tagged)}: {shown}: expected {expected}"):
        parse_override(f"optim.lr={tagged}")


@pytest.mark.parametrize("text", ["2024-01-31", "2020-02-30", "2020-01-01 25:00:00", "2024-01-31T10:00:00Z"])
def test_a_plain_text_that_yaml_1_1_reads_as_a_date_is_text(text, tmp_path):
    # YAML 1.2 has no timestamps: a run named after its day is a name, and a day that is none is no error
    assert parse_override(f"run.name={text}") == ("run.name", text)
    assert load_config(None, [f"run.name={text}"]).run.name == text
    assert load_config(write(tmp_path, f"run:\n  name: {text}\n")).run.name == text


def test_a_date_written_as_text_reads_back_as_that_text_to_both_readers():
    # a run's config.yaml is also read by other YAML 1.1 readers, which read an unquoted 2024-01-31 as a date
    import yaml

    from satlearn.yaml_text import read_yaml, write_yaml

    for text in ("2024-01-31", "2024-01-31 10:00:00", "2024-01-31T10:00:00Z"):
        written = write_yaml({"run": {"name": text}})
        assert yaml.safe_load(written) == {"run": {"name": text}}, written
        assert read_yaml(written) == {"run": {"name": text}}, written
        assert load_config(None, overrides_from_dict({"run": {"name": text}})).run.name == text


@pytest.mark.parametrize("key", ["optim.lr", "optim.momentum", "optim.weight_decay", "optim.gamma", "method.momentum",
                                 "method.sce_a", "method.sce_b", "method.gce_q", "method.payoff", "data.noise.rate",
                                 "data.test_fraction"])
@pytest.mark.parametrize("value, shown", [(".nan", "nan"), (".inf", "inf"), ("-.inf", "-inf")])
def test_every_float_setting_refuses_nan_and_infinity(key, value, shown):
    # NaN is neither below nor above any bound, so a range check alone lets it through
    with pytest.raises(ConfigError, match=rf"^--set {key}={value}: {key}={shown}; expected a finite number$"):
        load_config(None, [f"{key}={value}"])


def test_a_float_setting_from_a_file_that_is_not_finite_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"c\.yaml: optim\.gamma=nan; expected a finite number$"):
        load_config(write(tmp_path, "optim:\n  schedule: step\n  milestones: [2]\n  gamma: .nan\n"))


@pytest.mark.parametrize("overrides, message", [
    (["data.noise.rate=0.4"], r"^--set data\.noise\.rate=0\.4: data\.noise\.rate=0\.4 has no effect with "
                              r"data\.noise\.kind=none; set data\.noise\.kind=symmetric or pair$"),
    (["data.noise.kind=pair", "data.noise.mode=exact"], r"^--set data\.noise\.mode=exact: data\.noise\.mode='exact' "
                                                        r"has no effect with data\.noise\.kind=pair; "),
    (["data.noise.kind=symmetric", "data.noise.file=labels.npy"],
     r"^--set data\.noise\.file=labels\.npy: data\.noise\.file='labels\.npy' has no effect with "
     r"data\.noise\.kind=symmetric; set data\.noise\.kind=file"),
    (["data.noise.file=labels.npy"], r"data\.noise\.file='labels\.npy' has no effect with data\.noise\.kind=none"),
    (["data.noise.kind=file", "data.noise.file=labels.npz", "data.noise.rate=0.2"],
     r"^--set data\.noise\.rate=0\.2: data\.noise\.rate=0\.2 has no effect with data\.noise\.kind=file; the "
     r"file's labels are trained on as they are$"),
    (["data.noise.key=worst"], r"^--set data\.noise\.key=worst: data\.noise\.key='worst' has no effect with "
                               r"data\.noise\.kind=none"),
    (["data.noise.kind=file", "data.noise.file=labels.npy", "data.noise.key=worst"],
     r"^--set data\.noise\.key=worst: data\.noise\.key='worst' has no effect with data\.noise\.file=labels\.npy; "
     r"only a \.npz archive"),
    (["optim.nesterov=true"], r"^--set optim\.nesterov=true: optim\.nesterov=True has no effect with "
                              r"optim\.name=adam; it applies to optim\.name=sgd only$"),
    (["optim.momentum=0.5"], r"optim\.momentum=0\.5 has no effect with optim\.name=adam"),
    (["optim.milestones=[5]"], r"^--set optim\.milestones=\[5\]: optim\.milestones=\[5\] has no effect with "
                               r"optim\.schedule=cosine; set optim\.schedule=step to use it$"),
    (["optim.gamma=0.5"], r"optim\.gamma=0\.5 has no effect with optim\.schedule=cosine"),
    (["method.name=erm", "method.momentum=0.5"],
     r"^--set method\.momentum=0\.5: method\.momentum=0\.5 has no effect with method\.name=erm; method erm does "
     r"not use it$"),
    (["method.name=gamblers", "method.targets_dtype=bfloat16"], r"method\.targets_dtype='bfloat16' has no effect "
                                                                r"with method\.name=gamblers"),
    (["method.name=sat", "method.payoff=3"], r"method\.payoff=3\.0 has no effect with method\.name=sat"),
    (["data.noise.mode=exact"], r"^--set data\.noise\.mode=exact: data\.noise\.mode='exact' has no effect with "
                                r"data\.noise\.kind=none; it applies to data\.noise\.kind=symmetric only$"),
    (["data.noise.kind=file", "data.noise.file=labels.csv", "data.noise.key=worst"],
     r"^--set data\.noise\.key=worst: data\.noise\.key='worst' has no effect with data\.noise\.file=labels\.csv; "
     r"only a \.npz archive"),
    (["data.noise.kind=file", "data.noise.file=labels.txt", "data.noise.key=worst"],
     r"data\.noise\.key='worst' has no effect with data\.noise\.file=labels\.txt"),
    (["method.name=selective_sat", "method.payoff=3"], r"method\.payoff=3\.0 has no effect with "
                                                       r"method\.name=selective_sat"),
    (["data.val_pick=last"], r"^--set data\.val_pick=last: data\.val_pick='last' has no effect with "
                             r"data\.val_size=0; set data\.val_size to hold out a validation split$"),
])
def test_a_setting_that_another_switches_off_is_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_a_recipe_switched_off_from_the_command_line_keeps_its_file_values_and_the_run_names_them(tmp_path):
    from satlearn.config import unused_settings
    from satlearn.engine import fit

    path = write(tmp_path, "data:\n  noise:\n    kind: symmetric\n    rate: 0.4\n")
    config = load_config(path, ["data.noise.kind=none"])  # one --set turns the noise off; the file keeps its rate
    assert [key for key, _, _ in unused_settings(config)] == ["data.noise.rate"]
    assert unused_settings(load_config(write(tmp_path, "data:\n  noise:\n    rate: 0.4\n")))  # a file alone: allowed
    with pytest.raises(ConfigError, match=r"^--set data\.noise\.rate=0\.3: data\.noise\.rate=0\.3 has no effect"):
        load_config(path, ["data.noise.kind=none", "data.noise.rate=0.3"])  # typed: refused
    messages = []
    config = load_config(path, tiny_overrides(tmp_path, "data.noise.kind=none", "run.epochs=1", "method.start_epoch=0"))
    fit(config, tmp_path / "run", log=messages.append)
    assert "note: data.noise.rate=0.4 has no effect with data.noise.kind=none (unused)" in messages


def test_settings_that_are_used_or_left_at_their_defaults_pass(tmp_path):
    load_config(None, ["method.name=gamblers", "method.payoff=3", "model.num_classes=10"])
    for method in ("sat", "selective_sat"):
        load_config(None, [f"method.name={method}", "method.momentum=0.5", "method.targets_dtype=bfloat16",
                           "method.targets_device=cpu"])
    load_config(None, ["data.noise.kind=none", "data.noise.mode=paper", "optim.momentum=0.9", "optim.gamma=0.1"])
    load_config(None, ["data.noise.kind=file", "data.noise.file=labels.npz", "data.noise.key=worst"])
    load_config(None, ["data.noise.kind=file", "data.noise.file=labels.npy"])
    load_config(None, ["data.noise.kind=pair", "data.noise.rate=0.2", "optim.name=sgd", "optim.momentum=0.5",
                       "optim.nesterov=true", "optim.schedule=step", "optim.milestones=[3]", "optim.gamma=0.5"])
    # file noise replaces the labels whatever rate the recipe it was switched from had (a note, the test below)
    recipe = write(tmp_path, "data:\n  noise:\n    kind: symmetric\n    rate: 0.4\n")
    load_config(recipe, ["data.noise.kind=file", "data.noise.file=labels.npz", "data.noise.key=worst"])


@pytest.mark.parametrize("key, value, expected", [
    ("run.seed", 10**20, r"a seed from -9223344366821 to 18446688733643 \(each epoch's seed"),
    ("run.seed", -(2**63), r"a seed from -9223344366821 to"),
    ("data.data_seed", -1, "a seed of 0 or more"), ("data.noise.seed", -1, "a seed of 0 or more"),
])
def test_a_seed_outside_what_numpy_and_torch_take_is_refused(key, value, expected):
    with pytest.raises(ConfigError, match=rf"^--set {key}={value}: {key}={value}; expected {expected}"):
        load_config(None, [f"{key}={value}"])


def test_seeds_that_always_worked_pass():
    # negative run seeds and seeds past 2**32 trained before seeds were checked: their runs must still resume
    for run_seed in (-1, 2**32, 2**44, -(2**43), -9223344366821, 18446688733643):
        assert load_config(None, [f"run.seed={run_seed}"]).run.seed == run_seed
    import torch

    for run_seed in (-9223344366821, 18446688733643):  # the ends, at the default 60 epochs: every epoch's seed works
        for epoch in (0, 59):
            torch.Generator().manual_seed(run_seed * 1_000_003 + epoch)
    config = load_config(None, ["data.data_seed=4294967296", "data.noise.seed=18446744073709551616"])
    assert config.data.noise.seed == 2**64


def test_mnist1d_refuses_a_data_seed_its_generator_cannot_take(tmp_path):
    from satlearn.data import load_dataset
    from satlearn.errors import DataError

    config = load_config(None, ["data.data_seed=4294967296", f"data.root={tmp_path}"])
    with pytest.raises(DataError, match=r"^mnist1d: data\.data_seed=4294967296; expected a seed from 0 to 2\*\*32 - 1"):
        load_dataset(config.data)


@pytest.mark.parametrize("value", [0, -2, 1025, 100000])
def test_a_thread_count_outside_1_to_1024_is_refused(value):
    with pytest.raises(ConfigError, match=rf"^--set run\.threads={value}: run\.threads={value}; expected a thread "
                                          r"count from 1 to 1024 \(or null for torch's default\)$"):
        load_config(None, [f"run.threads={value}"])
    assert load_config(None, ["run.threads=1024"]).run.threads == 1024


def test_nesterov_without_momentum_is_refused():
    with pytest.raises(ConfigError, match=r"^--set optim\.nesterov=true: optim\.nesterov=true with optim\.momentum="
                                          r"0\.0; expected a positive optim\.momentum"):
        load_config(None, ["optim.name=sgd", "optim.momentum=0", "optim.nesterov=true"])
    assert load_config(None, ["optim.name=sgd", "optim.momentum=0.5", "optim.nesterov=true"]).optim.nesterov


@pytest.mark.parametrize("key, expected", [("run.out_dir", r"expected a folder \(\. for the current one\)"),
                                           ("data.root", r"expected a path \(or null for the default\)")])
def test_an_empty_path_setting_is_refused_not_read_as_the_current_directory_or_the_default(key, expected, tmp_path):
    # --set run.out_dir=$OUT with OUT unset: the run went into the current directory, as an empty --run-dir did
    with pytest.raises(ConfigError, match=rf"^--set {re.escape(key)}=: {re.escape(key)} is empty; {expected}$"):
        load_config(None, [f"{key}="])
    section, name = key.split(".")
    with pytest.raises(ConfigError, match=rf"c\.yaml: {re.escape(key)} is empty"):
        load_config(write(tmp_path, f'{section}:\n  {name}: ""\n'))
    assert load_config(None, ["run.out_dir=.", "data.root=null"]).run.out_dir == "."


@pytest.mark.parametrize("name", ["", ".", "..", "a/../../x", "/tmp/x", "../x", "a/.."])
def test_a_run_name_that_would_leave_out_dir_or_be_it_is_refused(name):
    with pytest.raises(ConfigError, match=r"^--set run\.name=.*: run\.name=.*; expected a directory name inside "
                                          r"run\.out_dir \(or a relative path such as group/run; not empty or \., "
                                          r"no \.\., not absolute\)$"):
        load_config(None, overrides_from_dict({"run": {"name": name}}))
    assert load_config(None, ["run.name=sat..v2"]).run.name == "sat..v2"
    assert load_config(None, ["run.name=sweep/lr0.1"]).run.name == "sweep/lr0.1"  # nested inside out_dir: fine


def test_a_config_file_is_read_as_utf8_whatever_the_locale(tmp_path):
    # YAML's encoding: a config written in UTF-8 reads the same under an ASCII locale (a bare C locale, UTF-8 mode off)
    import os
    import subprocess
    import sys

    path = tmp_path / "c.yaml"
    path.write_text("run:\n  name: caf\u00e9\n", encoding="utf-8")
    reads = f"from satlearn.config import load_config; print(ascii(load_config({str(path)!r}).run.name))"
    env = {**os.environ, "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    read = subprocess.run([sys.executable, "-c", reads], env=env, capture_output=True, text=True, timeout=120)
    assert (read.returncode, read.stdout) == (0, ascii("caf\u00e9") + "\n"), read.stderr


def test_a_config_file_that_is_not_utf8_text_is_one_line_naming_it(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"run:\n  name: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not a UTF-8 text file \(byte 0xe9 at offset 16\); expected a "
                                          r"YAML config file$"):
        load_config(path)
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not a UTF-8 text file \(byte 0xff at offset 0\)"):
        load_config(path)
    path.write_bytes("run:\n  name: café\n".encode())
    assert load_config(path).run.name == "café"


def test_shared_overrides_give_each_method_only_the_options_it_reads():
    from satlearn.config import overrides_for_method

    shared = ["method.momentum=0.5", "method={payoff: 3}", "method.start_epoch=2", "model.width=8"]
    assert overrides_for_method(shared, "erm") == ["method.start_epoch=2", "model.width=8"]
    assert overrides_for_method(shared, "gamblers") == ["method={payoff: 3}", "method.start_epoch=2", "model.width=8"]
    assert overrides_for_method(shared, "sat") == ["method.momentum=0.5", "method.start_epoch=2", "model.width=8"]
    mixed = ["method={payoff: 3, momentum: 0.5}"]  # one --set for two methods: kept, and refused where it misfits
    assert overrides_for_method(mixed, "sat") == mixed
    # an option none of the methods sharing the overrides reads would be dropped from every run: refused
    assert overrides_for_method(shared, "sat", shared_by=["erm", "sat", "gamblers"])[0] == "method.momentum=0.5"
    with pytest.raises(ConfigError, match=r"^--set method\.payoff=3: none of the methods here \(erm, sat\) uses it"):
        overrides_for_method(["method.payoff=3"], "sat", shared_by=["erm", "sat"])
    with pytest.raises(ConfigError, match=r"^--set method\.momentum=0\.8: none of the methods here \(erm\)"):
        overrides_for_method(["method.momentum=0.8"], "erm", shared_by=["erm"])


def test_overrides_that_are_not_a_list_of_strings_are_refused():
    for overrides in ("run.epochs=3", None):
        with pytest.raises(ConfigError, match=r"^overrides=.*; expected a list of 'key\.sub=value' strings"):
            load_config(None, overrides)
    assert load_config(None, ("run.epochs=30",)).run.epochs == 30


@pytest.mark.parametrize("name, problem", [("cuda:x", "is not a device name"), ("gpu0", "is not a device name"),
                                           ("meta", "is not a device satlearn runs on")])
def test_a_device_name_that_cannot_be_one_is_refused_with_the_set_that_gave_it(name, problem):
    # before anything loads or trains; whether the machine has the device is asked when the run starts
    with pytest.raises(ConfigError, match=rf"^--set run\.device={name}: run\.device='{name}' {problem}; expected "
                                          r"auto, cpu, cuda, cuda:N or mps$"):
        load_config(None, [f"run.device={name}"])
    for fine in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        assert load_config(None, [f"run.device={fine}"]).run.device == fine


def test_a_methods_own_settings_are_typed_from_the_file_and_set_key_by_key(tmp_path, method_with_settings):
    path = write(tmp_path, "method:\n  settings:\n    smoothing: 1\n    tags: [a]\n  name: label_smoothing\n")
    config = load_config(path)
    # the method is named after its settings: they are checked once it is known; an int is taken for a float
    assert config.method.settings == {"smoothing": 1.0, "warmup": None, "tags": ["a"]}
    assert isinstance(config.method.settings["smoothing"], float)
    config = load_config(path, ["method.settings.smoothing=0.5", "method.settings.warmup=3"])
    assert config.method.settings == {"smoothing": 0.5, "warmup": 3, "tags": ["a"]}  # the file's tags stay
    assert load_config(path, ["method.settings={warmup: 2}"]).method.settings["smoothing"] == 1.0


def test_a_methods_settings_are_saved_with_their_defaults_filled_in(method_with_settings):
    from satlearn.config import dump_yaml
    from satlearn.yaml_text import read_yaml

    config = load_config(None, ["method.name=label_smoothing"])
    defaults = method_with_settings.Settings()
    assert read_yaml(dump_yaml(config))["method"]["settings"] == {"smoothing": defaults.smoothing,
                                                                  "warmup": defaults.warmup, "tags": defaults.tags}
    assert read_yaml(dump_yaml(load_config(None)))["method"]["settings"] == {}  # the built-in methods take none
    config = load_config(None, ["method.name=label_smoothing", "method.settings.tags=[b, c]"])
    assert to_dict(load_config(None, overrides_from_dict(to_dict(config)))) == to_dict(config)


@pytest.mark.parametrize("override, message", [
    ("method.settings.smoothing=abc", "--set method.settings.smoothing=abc: method.settings.smoothing: expected "
                                      "float, got 'abc'"),
    ("method.settings.warmup=1.5", "--set method.settings.warmup=1.5: method.settings.warmup: expected int or null, "
                                   "got 1.5"),
    ("method.settings.tags=[1]", "--set method.settings.tags=[1]: method.settings.tags[0]: expected str, got 1"),
    ("method.settings.smoothin=0.2", "--set method.settings.smoothin=0.2: unknown key 'method.settings.smoothin'; "
                                     "method 'label_smoothing' takes: smoothing, warmup, tags"),
    ("method.settings={smoothing: .nan}", "--set method.settings={smoothing: .nan}: method.settings.smoothing=nan; "
                                          "expected a finite number"),
    ("method.settings=0.2", "--set method.settings=0.2: method.settings must be a mapping of its keys, got 0.2"),
])
def test_a_wrong_method_setting_is_one_line_naming_the_key_and_what_was_expected(override, message,
                                                                                method_with_settings):
    with pytest.raises(ConfigError) as caught:
        load_config(None, ["method.name=label_smoothing", override])
    assert str(caught.value) == message


def test_a_wrong_method_setting_from_a_file_names_the_file(tmp_path, method_with_settings):
    path = write(tmp_path, "method:\n  name: label_smoothing\n  settings: {beta: 0.2}\n")
    with pytest.raises(ConfigError, match=r"^\S*c\.yaml: unknown key 'method\.settings\.beta'; method "
                                          r"'label_smoothing' takes: smoothing, warmup, tags$"):
        load_config(path)


def test_a_method_without_settings_refuses_any(tmp_path, method_with_settings):
    with pytest.raises(ConfigError, match=r"^--set method\.settings\.smoothing=0\.2: method\.settings\.smoothing=0\.2; "
                                          r"method 'sat' takes no settings of its own \(its class declares no "
                                          r"Settings\)$"):
        load_config(None, ["method.settings.smoothing=0.2"])
    # a file's settings meant for another method: the --set that switched methods is what is named
    path = write(tmp_path, "method:\n  name: label_smoothing\n  settings: {smoothing: 0.2}\n")
    with pytest.raises(ConfigError, match=r"^--set method\.name=erm: method\.settings\.smoothing=0\.2; method 'erm' "
                                          "takes no settings"):
        load_config(path, ["method.name=erm"])
    assert load_config(None, ["method.settings={}"]).method.settings == {}


def test_settings_a_method_declares_wrongly_are_named_with_the_method(method_with_settings):
    import dataclasses

    from satlearn.config import method_settings

    @dataclasses.dataclass
    class Required:
        smoothing: float

    @dataclasses.dataclass
    class WrongDefault:
        smoothing: int = 0.1

    with pytest.raises(ConfigError, match=r"^--set x: method 'label_smoothing' needs method\.settings\.smoothing "
                                          r"\(its Settings give it no default\)$"):
        method_settings(type("M", (), {"Settings": Required}), {}, name="label_smoothing", where=lambda *k: "--set x")
    assert method_settings(type("M", (), {"Settings": Required}), {"smoothing": 1}, name="m").smoothing == 1.0
    with pytest.raises(TypeError, match=r"^method 'm': M\.Settings\.smoothing defaults to 0\.1, not a value of its "
                                        r"type \(int\); "):
        method_settings(type("M", (), {"Settings": WrongDefault}), {}, name="m")
    with pytest.raises(TypeError, match=r"^method 'm': M\.Settings must be a dataclass, got \{'smoothing': 0\.1\}$"):
        method_settings(type("M", (), {"Settings": {"smoothing": 0.1}}), {}, name="m")


def test_settings_a_methods_own_check_refuses_are_one_line_naming_where_they_came_from(tmp_path,
                                                                                     method_with_settings):
    import dataclasses

    @dataclasses.dataclass
    class Settings:
        smoothing: float = 0.1
        warmup: int = 0

        def __post_init__(self):
            if not 0 <= self.smoothing < 1:
                raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing}")

    method_with_settings.Settings = Settings
    with pytest.raises(ConfigError) as caught:
        load_config(None, ["method.name=label_smoothing", "method.settings.smoothing=1.5"])
    assert str(caught.value) == ("--set method.settings.smoothing=1.5: method 'label_smoothing' refuses its settings "
                                 "(smoothing=1.5, warmup=0): smoothing must be in [0, 1), got 1.5")
    path = write(tmp_path, "method:\n  name: label_smoothing\n  settings: {smoothing: 2}\n")
    with pytest.raises(ConfigError, match=r"^\S*c\.yaml: method 'label_smoothing' refuses its settings "
                                          r"\(smoothing=2\.0, warmup=0\): smoothing must be in"):
        load_config(path)


def test_a_setting_the_dataclass_derives_itself_is_not_saved_and_the_saved_config_reads_back(method_with_settings):
    import dataclasses

    from satlearn.config import dump_yaml
    from satlearn.yaml_text import read_yaml

    @dataclasses.dataclass
    class Settings:
        smoothing: float = 0.1
        confidence: float = dataclasses.field(init=False)

        def __post_init__(self):
            self.confidence = 1 - self.smoothing

    method_with_settings.Settings = Settings
    saved = dump_yaml(load_config(None, ["method.name=label_smoothing", "method.settings.smoothing=0.25"]))
    assert read_yaml(saved)["method"]["settings"] == {"smoothing": 0.25}
    again = load_config(None, overrides_from_dict(read_yaml(saved)))
    assert again.method.settings == {"smoothing": 0.25}


def test_a_list_of_floats_among_a_methods_settings_must_hold_finite_numbers(monkeypatch):
    from dataclasses import dataclass, field

    from satlearn.methods import METHODS
    from satlearn.methods.erm import ERM

    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))

    @METHODS.register("class_weighted")
    class ClassWeighted(ERM):
        @dataclass
        class Settings:
            weights: list[float] = field(default_factory=list)

    with pytest.raises(ConfigError, match=r"^--set method\.settings\.weights=\[1, \.inf\]: "
                                          r"method\.settings\.weights\[1\]=inf; expected a finite number$"):
        load_config(None, ["method.name=class_weighted", "method.settings.weights=[1, .inf]"])
    assert load_config(None, ["method.name=class_weighted", "method.settings.weights=[1, 2.5]"]).method.settings == \
        {"weights": [1.0, 2.5]}


def test_a_config_file_named_from_the_home_directory_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "c.yaml").write_text("run:\n  epochs: 7\n")
    assert load_config("~/c.yaml", ["method.start_epoch=1"]).run.epochs == 7


@pytest.mark.parametrize("overrides, message", [
    (["data.val_size=-1"], r"^--set data\.val_size=-1: data\.val_size=-1; expected a non-negative number$"),
    (["data.val_size=10", "data.val_pick=first"], r"^--set data\.val_pick=first: data\.val_pick='first'; expected "
                                                  r"one of: random, last$"),
])
def test_a_validation_split_of_no_count_or_an_unknown_pick_is_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


@pytest.mark.parametrize("text, got", [("0.1", "0.1"), ("10%", "'10%'"), ("'10'", "'10' (a number in quotes is text: "
                                                                               "write it without them)")])
def test_a_validation_split_given_as_a_share_says_that_it_is_a_count_of_examples(text, got, tmp_path):
    # a share of the training split is what other libraries take: the type's name alone ("expected int") left a user
    # to guess what whole number was meant
    expected = "data.val_size: expected a whole number of training examples to hold out (a count, not a fraction), got "
    with pytest.raises(ConfigError, match=rf"^--set data\.val_size={re.escape(text)}: {re.escape(expected + got)}$"):
        load_config(None, [f"data.val_size={text}"])
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path / 'c.yaml'))}: {re.escape(expected + got)}$"):
        load_config(write(tmp_path, f"data:\n  val_size: {text}\n"))
    config = Config()
    config.data.val_size = 0.1  # set in Python: the check of a config built in code says the same
    with pytest.raises(ConfigError, match=rf"^mine: {re.escape(expected)}0\.1$"):
        check(config, source="mine")


def test_a_validation_split_is_off_unless_asked_for_and_set_in_a_file_with_its_pick(tmp_path):
    assert (Config().data.val_size, Config().data.val_pick) == (0, "random")
    config = load_config(write(tmp_path, "data:\n  val_size: 5000\n  val_pick: last\n"))
    assert (config.data.val_size, config.data.val_pick) == (5000, "last")
