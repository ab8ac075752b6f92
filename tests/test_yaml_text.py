import pytest
import yaml

from satlearn.errors import ConfigError
from satlearn.yaml_text import (
    RefusedYaml, YamlFileError, decimal_number, number_spelling_hint, read_yaml, read_yaml_file, where_yaml_fails,
    whole_number, write_yaml,
)


@pytest.mark.parametrize("text, value", [("0", 0), ("+7", 7), ("-12", -12), ("007", 7)])
def test_whole_number_reads_a_sign_and_the_digits_0_to_9(text, value):
    assert whole_number(text) == value


@pytest.mark.parametrize("text", ["", "+", "2_0", " 3", "3 ", "\u0663", "0x10", "1.0"])
def test_whole_number_refuses_what_int_takes_beyond_the_digits_0_to_9(text):
    with pytest.raises(ValueError):
        whole_number(text)


@pytest.mark.parametrize("text, value", [("0.5", 0.5), (".5", 0.5), ("5.", 5.0), ("-1e-3", -0.001), ("+2E+1", 20.0)])
def test_decimal_number_reads_digits_a_dot_and_an_exponent(text, value):
    assert decimal_number(text) == value


@pytest.mark.parametrize("text", ["", ".", "1_0", "inf", "nan", " 1", "1e", "\u0663.5"])
def test_decimal_number_refuses_what_float_takes_beyond_them(text):
    with pytest.raises(ValueError):
        decimal_number(text)


def test_numbers_as_yaml_reads_them_here():
    # YAML 1.1 reads 2_0, 010, 1:20 and 1_0.5 as 20, 8, 80 and 10.5, and off as false
    assert read_yaml("[12, -3, 0.5, 1e-3, .inf, 2_0, 010, 1:20, 1_0.5, -.5, off]") == [
        12, -3, 0.5, 0.001, float("inf"), "2_0", "010", "1:20", "1_0.5", "-.5", "off"]


def test_a_refused_text_is_a_yaml_error_placed_at_its_line():
    text = "a: 1\nb: !!int 2_0\n"
    with pytest.raises(RefusedYaml) as caught:
        read_yaml(text)
    assert isinstance(caught.value, yaml.YAMLError)
    assert where_yaml_fails(caught.value, text).startswith(" at line 2 (!!int 2_0: expected a whole number")


def test_read_yaml_file_names_the_file_and_keeps_the_reason_apart(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: [1, 2\n")
    with pytest.raises(YamlFileError) as caught:
        read_yaml_file(path)
    assert isinstance(caught.value, ConfigError)
    assert str(caught.value) == f"{path}: {caught.value.reason}"
    assert caught.value.reason.startswith("not valid YAML at line 1")
    path.write_bytes(b"a: \xff\n")
    with pytest.raises(YamlFileError, match=r"not a UTF-8 text file \(byte 0xff at offset 3\)"):
        read_yaml_file(path)


def test_a_plain_equals_sign_is_text():
    # YAML 1.1's "value" type, which PyYAML resolves but has no constructor for: an error about tag:yaml.org,2002:value
    assert read_yaml("name: =\ncolumns: [=, id]\n") == {"name": "=", "columns": ["=", "id"]}
    assert read_yaml(write_yaml({"name": "="})) == {"name": "="}


def test_written_yaml_reads_back_as_the_same_values():
    values = {"name": "010", "rate": 0.5, "count": 3, "flag": "off", "small": "1e3", "items": [1, "2_0"]}
    assert read_yaml(write_yaml(values)) == values


@pytest.mark.parametrize("text, whole, fractional, says", [
    ("2_0", True, False, "whole number"),
    ("0x10", False, True, "digits 0-9 and an optional dot"),
    ("-.5", False, True, "write a 0 before the dot"),
    ("inf", False, True, None),
    ("abc", True, True, None),
    ("2_0", False, False, None),
    ("10", True, False, "in quotes"),  # "10" in a file: a number that the quotes made text
    ("10", False, True, "in quotes"),
    ("1e-3", False, True, "in quotes"),
    ("0.5", True, False, None),  # unquoted, no whole number either
    (".inf", False, True, None),
])
def test_the_hint_on_how_a_number_is_written(text, whole, fractional, says):
    hint = number_spelling_hint(text, whole=whole, fractional=fractional)
    assert (says in hint) if says else hint == ""
