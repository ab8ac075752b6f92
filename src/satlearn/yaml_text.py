"""YAML as satlearn reads and writes it (config files, a run's ``config.yaml``, ``--set`` values), and numbers
written as text, read one way on the command line and in YAML.

YAML is read the YAML 1.2 way where 1.1 surprises people (``_Yaml12Loader``), and written so that both readers agree
(:func:`write_yaml`); an error is placed at its line in the text (:func:`where_yaml_fails`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from satlearn.errors import ConfigError

_MERGE_TAG = "tag:yaml.org,2002:merge"
# YAML 1.2 floats without a dot, which YAML 1.1 reads as strings: the dumper below quotes such a string
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$")
# A whole number in YAML here: an optional sign and the digits 0-9, without a leading 0. YAML 1.1 reads more as
# numbers: 2_0 as 20, 1:20 as 80 (base 60), 0b11 as 3, 0x10 as 16, and 010 as 8 (octal, where YAML 1.2 reads 10);
# those stay text, which a whole-number setting refuses, as the command line refuses 2_0. Every text read as a number
# here YAML 1.1 reads as the same number, so a string that a YAML 1.1 dumper left unquoted (09) still reads as one.
_YAML_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
# the command line's: an optional sign and the digits 0-9; int() also takes 2_0, other scripts' digits and spaces
_WHOLE_NUMBER = re.compile(r"[-+]?[0-9]+\Z")
# and a number with a fraction: the digits 0-9 with an optional dot and fraction, then an optional exponent; float()
# also takes 1_0, other scripts' digits, spaces, inf and nan
_DECIMAL_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
# YAML's infinities and not-a-number, which a float setting refuses by name (it must be finite)
_YAML_INF_NAN = re.compile(r"(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z")
# A float in YAML here: what YAML 1.1 or the exponent form above reads as one, less 1.1's 1_0.5 (10.5) and 1:20.5
# (80.5, base 60), which stay text as 2_0 and 1:20 do. A sign before a bare .5 stays text too: YAML 1.1 reads -.5 as
# text, and so a dumper of its rules leaves such a string unquoted.
_YAML_FLOAT = re.compile(r"(?:[-+]?[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?"
                         r"|[-+]?(?:[0-9]+|\.[0-9]+)[eE][-+]?[0-9]+)\Z|" + _YAML_INF_NAN.pattern)

# what _YAML_FLOAT leaves as text, and float() reads: -.5
_SIGNED_BARE_DOT = re.compile(r"[-+]\.[0-9]+\Z")


class RefusedYaml(yaml.constructor.ConstructorError):
    """YAML that PyYAML would read, or fail on without saying where, that satlearn refuses at a place in the text;
    a ``--set`` value with one is an error, not a text taken as it is (``satlearn.config.parse_override``)."""


class _DuplicateKey(RefusedYaml):
    """A key given twice in one YAML mapping."""


class _NotAWholeNumber(RefusedYaml):
    """A text tagged ``!!int`` that is not a whole number as satlearn writes one."""


class _TextNotOfItsTag(RefusedYaml):
    """A text that its tag cannot read (``!!float abc``, ``!!bool maybe``)."""


# what a text tagged so is expected to be, where it does not fit the tag
_TAGGED_TEXTS = {"bool": "true or false", "float": "a number such as 0.5, 1e-3 or .inf",
                 "timestamp": "a date such as 2024-01-31, or a date and time"}


class _Yaml12Loader(yaml.SafeLoader):
    """Safe YAML read the YAML 1.2 way where 1.1 surprises people: only true/false are booleans (``amp: off``
    stays the string "off"), a plain date is text (``2024-01-31`` stays the string "2024-01-31"; 1.2 has no
    timestamps), ``1e-3`` is a float (1.1 wants ``1.0e-3``), a number is a sign and the digits 0-9, with
    a dot or an exponent for a float (``2_0``, ``010``, ``1:20``, ``1_0.5`` stay text: see ``_YAML_INT`` and
    ``_YAML_FLOAT``), a plain ``=`` is text, and a key given twice in one mapping is an error
    instead of the last one silently winning (merge keys ``<<:`` still override as YAML defines). A text that its
    tag does not fit (``!!float abc``), on which PyYAML's constructors fail without a place, is an error at its
    place too."""

    def flatten_mapping(self, node):
        # checked before the merge adds the merged keys to the node, and once per node: an anchored mapping
        # merged elsewhere is flattened again, with merged and own keys side by side by design
        checked = self.__dict__.setdefault("_checked_mappings", set())
        if id(node) not in checked:
            checked.add(id(node))
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:  # an unhashable key: PyYAML's own error names it
                    continue
                if first is not key_node.start_mark:
                    raise _DuplicateKey(
                        None, None, f"duplicate key {key!r}, first given at line {first.line + 1}",
                        key_node.start_mark)
        super().flatten_mapping(node)

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, KeyError, AttributeError):
            # how the scalar constructors fail on a text that does not fit the tag, with no place in the text:
            # _construct_float's ValueError (!!float abc), a bool or timestamp pattern that does not match; only a
            # tagged text gets here, as the resolvers above give a plain one a tag that reads it
            if not isinstance(node, yaml.ScalarNode):
                raise
            tag = _short_tag(node)
            expected = _TAGGED_TEXTS.get(tag[2:], f"a text that {tag} reads")
            raise _TextNotOfItsTag(None, None, f"{_as_tagged(node)}: expected {expected}", node.start_mark) from None


def _short_tag(node: yaml.Node) -> str:
    return node.tag.replace("tag:yaml.org,2002:", "!!", 1)


def _as_tagged(node: yaml.ScalarNode) -> str:
    """A scalar as its tag and text (``!!int 2_0``; an empty text, ``!!int``, as the tag alone)."""
    return f"{_short_tag(node)} {node.value}" if node.value else _short_tag(node)


def _construct_whole_number(loader: _Yaml12Loader, node: yaml.ScalarNode) -> int:
    # reached by the text _YAML_INT matches, and by any text tagged !!int (`!!int 2_0`): refused as a plain one is
    text = loader.construct_scalar(node)
    if not _YAML_INT.match(text):
        raise _NotAWholeNumber(None, None, f"{_as_tagged(node)}: expected a whole number written with the digits 0-9 "
                                           "only, without a leading 0", node.start_mark)
    return int(text)


def _construct_float(loader: _Yaml12Loader, node: yaml.ScalarNode) -> float:
    # reached by the text _YAML_FLOAT matches, and by any text tagged !!float: `!!float 1_0` is refused as a plain
    # 1_0.0 is (YAML 1.1's constructor would read it as 10.0); `!!float 10` is 10.0, as YAML 1.2 reads it
    text = loader.construct_scalar(node)
    if not (_DECIMAL_NUMBER.match(text) or _YAML_INF_NAN.match(text)):
        raise ValueError(text)  # construct_object names the tag, the text and what was expected, at its place
    return loader.construct_yaml_float(node)


_BOOL_TAG, _INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
# YAML 1.2's core schema has no timestamps: a plain 2024-01-31 is the text it reads as (a run name, say), not a date
# that a str setting refuses, and 2024-02-30 is text too, not an error; `!!timestamp 2024-01-31` still reads a date
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
# nor YAML 1.1's "value" type, a plain =, which PyYAML resolves but cannot construct: = is text (a CSV column's name)
_VALUE_TAG = "tag:yaml.org,2002:value"
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in (_BOOL_TAG, _INT_TAG, _FLOAT_TAG, _TIMESTAMP_TAG, _VALUE_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Yaml12Loader.add_implicit_resolver(_INT_TAG, _YAML_INT, list("-+0123456789"))
_Yaml12Loader.add_constructor(_INT_TAG, _construct_whole_number)
_Yaml12Loader.add_implicit_resolver(_FLOAT_TAG, _YAML_FLOAT, list("-+0123456789."))
_Yaml12Loader.add_constructor(_FLOAT_TAG, _construct_float)


class _QuotingDumper(yaml.SafeDumper):
    """Safe YAML written so that both readers agree: a string that YAML 1.1 or the loader above would read as
    something else (``off``, ``1e3``, ``2024-01-31``, a date to YAML 1.1) is quoted."""


_QuotingDumper.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


def write_yaml(data: Any, **options: Any) -> str:
    """YAML text that :func:`read_yaml` reads back as ``data``."""
    return yaml.dump(data, Dumper=_QuotingDumper, **options)


def read_yaml(text: str) -> Any:
    """``text`` read as satlearn reads its YAML (see ``_Yaml12Loader``); YAML it cannot read or refuses raises a
    :class:`yaml.YAMLError`, which :func:`where_yaml_fails` places in the text."""
    return yaml.load(text, Loader=_Yaml12Loader)


def yaml_comment(text: str) -> str | None:
    """The comment that YAML drops from ``text`` (from a ``#`` at its start or after a blank to the end of its line),
    or None: ``#1`` reads as null and ``trial #2`` as ``trial``, while ``a#b`` and ``'a #b'`` keep theirs. Text YAML
    cannot scan has none found here."""
    try:
        tokens = list(yaml.scan(text, Loader=_Yaml12Loader))
    except yaml.YAMLError:
        return None
    # the scanner steps over blanks, line breaks and comments between tokens, and nothing else
    for before, after in zip(tokens, tokens[1:]):
        start = text.find("#", before.end_mark.index, after.start_mark.index)
        if start >= 0:
            return _YAML_LINE_BREAK.split(text[start:], maxsplit=1)[0]
    return None


class YamlFileError(ConfigError):
    """A config file that :func:`read_yaml_file` cannot read; ``reason``: why, in words that can follow its path
    in another message (``not valid YAML at line 3 (...)``)."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


def read_yaml_file(path: Path) -> Any:
    """The YAML file at ``path`` (a config file, a run's ``config.yaml``) read as :func:`read_yaml` reads text, from
    UTF-8, YAML's encoding, whatever the locale's: how satlearn reads every YAML file of its own, so that a file
    reads the same to every command. A :class:`YamlFileError` naming the file where it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise YamlFileError(f"{path}: cannot read config file ({reason})", reason=reason) from None
    except UnicodeDecodeError as exc:
        reason = f"not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        raise YamlFileError(f"{path}: {reason}; expected a YAML config file", reason=reason) from None
    try:
        return read_yaml(text)
    except yaml.YAMLError as exc:
        reason = f"not valid YAML{where_yaml_fails(exc, text)}"
        raise YamlFileError(f"{path}: {reason}", reason=reason) from None


# what YAML reads as a line break, and as blank space at the end of a line
_YAML_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_YAML_BLANK = " \t\n\r\x85\u2028\u2029"


def where_yaml_fails(exc: yaml.YAMLError, text: str) -> str:
    """`` at line N (what is wrong)`` for PyYAML's error ``exc`` in ``text``, or as much of it as PyYAML says.

    A construct left open (a bracket, a quote) is found out at the end of the text, which PyYAML marks on the line
    after the last line break: in a file that ends in one, a line past its end. Such an error is put on the last
    line that holds text, and names the line where the open construct begins when that is another one."""
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML allows nowhere: PyYAML gives only its offset
        line = len(_YAML_LINE_BREAK.findall(text[:exc.position])) + 1
        return f" at line {line} ({str(exc).splitlines()[0]})"
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is None:
        return f" ({problem})" if problem else ""
    line = mark.line + 1
    context = getattr(exc, "context", None)
    if problem and problem.startswith("but ") and context:  # PyYAML's second document: "but found another document"
        problem = f"{context} {problem}"
    if mark.index >= len(text):
        line = len(_YAML_LINE_BREAK.findall(text.rstrip(_YAML_BLANK))) + 1
        begun = getattr(exc, "context_mark", None)
        # (a context marked at the end too, "while parsing a flow node", says nothing more)
        if context and begun is not None and begun.index < len(text) and begun.line + 1 != line:
            problem = f"{problem}, {context} begun at line {begun.line + 1}"
    return f" at line {line}" + (f" ({problem})" if problem else "")


def number_spelling_hint(text: str, *, whole: bool, fractional: bool) -> str:
    """How a number is written, for a ``text`` that Python would read as one (``2_0``, ``010``, ``0x10``,
    ``1_0.5``) given where a whole number (``whole``) or a float (``fractional``) is expected: YAML reads it here as
    text (see ``_YAML_INT`` and ``_YAML_FLOAT``), and for a number given in quotes (``"10"``), which YAML reads as
    text. Empty where there is nothing to say."""
    if (whole or fractional) and _YAML_INT.match(text) or fractional and _YAML_FLOAT.match(text):
        if not _YAML_INF_NAN.match(text):  # .inf in quotes: the setting would refuse it unquoted too
            return " (a number in quotes is text: write it without them)"
    if whole and _read_by_python(text, (lambda given: int(given, 10), lambda given: int(given, 0))):
        return " (a whole number is written with the digits 0-9 alone, without _ or a leading 0)"
    if fractional and _SIGNED_BARE_DOT.match(text):  # -.5, which YAML 1.1 reads as text
        return " (a sign before a bare dot is text in YAML: write a 0 before the dot)"
    # 0: with its prefix (0x10), where 10 takes 2_0 and 010; a float from 1_0.5 (inf and nan are no slip of the pen)
    if fractional and _read_by_python(text, (lambda given: int(given, 0), float)):
        return (" (a number is written with the digits 0-9 and an optional dot and exponent, such as 10, 0.5 or 1e-3, "
                "without _ or a leading 0)")
    return ""


def _read_by_python(text: str, readers) -> bool:
    """Whether one of ``readers`` (``int``, ``float``) reads ``text`` as a finite number."""
    for read in readers:
        try:
            if math.isfinite(read(text)):
                return True
        except ValueError:
            continue
    return False


def whole_number(text: str) -> int:
    """``text`` as a whole number: an optional sign and the digits 0-9, nothing around them; else ``ValueError``, as
    ``int()`` raises. ``int()`` itself takes more (``2_0`` as 20, other scripts' digits, spaces around), so that a
    mistyped count could pass for another one."""
    if not _WHOLE_NUMBER.match(text):
        raise ValueError(f"not a whole number: {text!r}")
    return int(text)


def decimal_number(text: str) -> float:
    """``text`` as a number: an optional sign, the digits 0-9 with an optional dot and fraction (``0.5``, ``.5``,
    ``5.``), and an optional exponent (``1e-3``); nothing around them; else ``ValueError``, as ``float()`` raises.
    ``float()`` itself takes more: ``1_0`` as 10, other scripts' digits, spaces around, and ``inf`` and ``nan``,
    which no option that takes a number here has a use for. (A text too large for a float, ``1e999``, is ``inf``,
    for the caller's range to refuse.)"""
    if not _DECIMAL_NUMBER.match(text):
        raise ValueError(f"not a number: {text!r}")
    return float(text)
