"""yamlload: YAML without the YAML 1.1 surprises, with the line of every key."""

from __future__ import annotations

import math

import pytest

from nbflow.workflows import yamlload
from nbflow.workflows.yamlload import Document, YamlError, load


def value(text: str):
    """The value of key `v` in a one-line document `v: TEXT`."""
    return load(f"v: {text}\n").data["v"]


@pytest.mark.parametrize(
    "text, expected",
    [
        # YAML 1.1 booleans stay text
        ("no", "no"),
        ("yes", "yes"),
        ("off", "off"),
        ("on", "on"),
        ("No", "No"),
        ("ON", "ON"),
        ("y", "y"),
        ("n", "n"),
        # ids and codes with leading zeros stay text
        ("007", "007"),
        ("00", "00"),
        # dates and times stay text
        ("2024-01-05", "2024-01-05"),
        ("2024-01-05T10:00:00Z", "2024-01-05T10:00:00Z"),
        ("12:30", "12:30"),  # YAML 1.1 would make this 750 (base 60)
        # the only booleans
        ("true", True),
        ("false", False),
        ("True", True),
        ("FALSE", False),
        # numbers
        ("12", 12),
        ("0", 0),
        ("-3", -3),
        ("+5", 5),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("0.5e-3", 0.0005),
        ("0x1F", 31),
        ("0o17", 15),
        # null
        ("~", None),
        ("null", None),
        ("", None),
        # quoted scalars are always text
        ('"12"', "12"),
        ("'true'", "true"),
        ('"null"', "null"),
        ("'~'", "~"),
        ('"1e3"', "1e3"),
        ('"on"', "on"),
        ("''", ""),
        # an explicit tag wins
        ("!!str 12", "12"),
        ("!!str true", "true"),
        ("!!str 007", "007"),
        ("!!int 12", 12),
        ("!!float 3", 3.0),
        # plain text
        ("hello world", "hello world"),
        ("NaN", "NaN"),
    ],
)
def test_scalar_types(text, expected):
    got = value(text)
    assert got == expected
    assert type(got) is type(expected)


def test_special_floats():
    data = load("a: .inf\nb: -.inf\nc: .nan\n").data
    assert data["a"] == math.inf
    assert data["b"] == -math.inf
    assert math.isnan(data["c"])


def test_on_key_stays_the_string_on():
    data = load("on: push\noff: 1\nyes: 2\n").data
    assert data == {"on": "push", "off": 1, "yes": 2}
    assert all(isinstance(k, str) for k in data)


def test_sequences_and_nested_mappings():
    data = load("a:\n  - 1\n  - no\n  - {x: 007, y: [true, ~]}\n").data
    assert data == {"a": [1, "no", {"x": "007", "y": [True, None]}]}


def test_literal_block_scalar():
    assert load("a: |\n  hello\n  world\n").data == {"a": "hello\nworld\n"}


def test_folded_block_scalar_joins_lines_with_a_space():
    assert load("a: >\n  hello\n  world\n").data == {"a": "hello world\n"}


def test_anchor_and_alias():
    data = load("base: &b [1, 2]\ncopy: *b\n").data
    assert data == {"base": [1, 2], "copy": [1, 2]}


def test_merge_key_with_override():
    text = "base: &b\n  x: 1\n  y: 2\nother:\n  <<: *b\n  y: 3\n"
    data = load(text).data
    assert data["other"] == {"x": 1, "y": 3}
    assert "<<" not in data["other"]


def test_merge_key_explicit_key_wins_even_before_the_merge():
    text = "base: &b {x: 1, y: 2}\nother:\n  y: 3\n  <<: *b\n"
    assert load(text).data["other"] == {"x": 1, "y": 3}


def test_merge_key_list_of_mappings():
    text = "a: &a {x: 1}\nb: &b {x: 2, z: 3}\nc:\n  <<: [*a, *b]\n"
    # the first mapping in the list wins, as in YAML's merge rules
    assert load(text).data["c"] == {"x": 1, "z": 3}


def test_merge_is_not_a_duplicate():
    doc = load("base: &b {x: 1}\nother:\n  <<: *b\n  x: 5\n")
    assert doc.data["other"] == {"x": 5}
    assert doc.duplicates == []


def test_quoted_merge_key_is_an_ordinary_key():
    doc = load("base: &b {x: 1}\nother:\n  '<<': *b\n")
    assert doc.data["other"] == {"<<": {"x": 1}}


def test_duplicate_keys_are_recorded_with_the_line_of_the_repeat():
    doc = load("a: 1\nb: 2\na: 3\n")
    assert doc.duplicates == [(("a",), 3)]


def test_nested_duplicate_keys_are_recorded_with_their_path():
    doc = load("tasks:\n  - key: a\n    retries: 1\n    retries: 2\n")
    assert doc.duplicates == [(("tasks", 0, "retries"), 4)]


def test_no_duplicates_in_a_clean_document():
    assert load("a: 1\nb: {a: 2}\n").duplicates == []


def test_lines_are_one_based_for_keys_and_items():
    text = "name: x\ntasks:\n  - key: a\n    notebook: n.ipynb\n  - key: b\n"
    doc = load(text)
    assert doc.lines[("name",)] == 1
    assert doc.lines[("tasks",)] == 2
    assert doc.lines[("tasks", 0)] == 3
    assert doc.lines[("tasks", 0, "key")] == 3
    assert doc.lines[("tasks", 0, "notebook")] == 4
    assert doc.lines[("tasks", 1)] == 5
    assert doc.lines[("tasks", 1, "key")] == 5


def test_lines_inside_a_flow_mapping_spanning_lines():
    doc = load("a: {x: 1,\n  y: 2}\n")
    assert doc.lines[("a", "x")] == 1
    assert doc.lines[("a", "y")] == 2


def test_line_of_falls_back_to_the_nearest_enclosing_path():
    doc = load("name: x\ntasks:\n  - key: a\n    notebook: n.ipynb\n")
    assert doc.line_of(("tasks", 0, "notebook")) == 4
    assert doc.line_of(("tasks", 0, "no_such_key")) == 3
    assert doc.line_of(["tasks", 0, "notebook"]) == 4  # any sequence works
    assert doc.line_of(("nothing", "here")) == 1  # the document itself


def test_line_of_on_an_empty_document():
    doc = load("")
    assert doc.data is None
    assert doc.line_of(("a",)) is None


def test_document_line_of_without_loading():
    doc = Document(data={}, lines={(): 1, ("a",): 2, ("a", "b"): 3})
    assert doc.line_of(("a", "b", "c")) == 3
    assert doc.line_of(("z",)) == 1


@pytest.mark.parametrize(
    "text, line",
    [
        ("a: 1\n b: 2\n", 2),  # bad indentation
        ("a: b: c\n", 1),
        ("a: 1\nb: [1, 2\nc: 3\n", 3),  # unclosed flow sequence, found at the next key
        ("a:\n\tb: 1\n", 2),  # a tab
        ("a: &x 1\nb: *nope\n", 2),  # an alias to nothing
        ("a: 1\n---\nb: 2\n", 2),  # two documents
    ],
)
def test_invalid_yaml_raises_yaml_error_with_the_line(text, line):
    with pytest.raises(YamlError) as info:
        load(text)
    assert info.value.line == line
    assert str(info.value).startswith("invalid YAML")
    assert info.value.message == str(info.value)


def test_yaml_error_is_raised_not_a_ruamel_error():
    with pytest.raises(YamlError):
        load("[unclosed\n")


def test_resolve_plain_is_the_single_rule_for_plain_scalars():
    assert yamlload.resolve_plain("007") == "007"
    assert yamlload.resolve_plain("7") == 7
    assert yamlload.resolve_plain("yes") == "yes"
    assert yamlload.resolve_plain("Null") is None


def test_a_merged_key_knows_the_line_of_its_merge_and_own_keys_keep_theirs():
    doc = load(
        "base: &b\n"  # 1
        "  a: from base\n"  # 2
        "  b: from base\n"  # 3
        "x:\n"  # 4
        "  a: own\n"  # 5
        "  <<: *b\n"  # 6
        "  c: own\n"  # 7
    )
    assert doc.data["x"] == {"a": "own", "c": "own", "b": "from base"}
    assert doc.lines[("x", "a")] == 5  # written before the merge, not the anchor's line 2
    assert doc.lines[("x", "b")] == 3
    assert doc.merged == {("x", "b"): 6}


# -- hostile files: refused at a line, quickly, without a traceback -------------------------

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def test_nested_aliases_are_refused_past_the_alias_budget():
    assert len(BILLION_LAUGHS) < 500  # expands to 9**9 values: hundreds of millions
    with pytest.raises(YamlError) as info:
        load(BILLION_LAUGHS)
    assert "aliases expand to more than 10,000 values" in info.value.message
    assert info.value.line is not None and 1 <= info.value.line <= 9


def test_aliases_within_the_budget_still_work():
    text = "d: &d {retries: 1, timeout: 5m}\ntasks:\n" + "".join(
        f"  - {{<<: *d, key: t{i}}}\n" for i in range(3000)
    )
    tasks = load(text).data["tasks"]
    assert tasks[2999] == {"retries": 1, "timeout": "5m", "key": "t2999"}


@pytest.mark.parametrize(
    "text",
    [
        "x: &a [*a]\n",  # a list holding itself
        "x: &a {y: *a}\n",  # a mapping holding itself
        "x: &a {<<: *a}\n",  # a mapping merging itself
    ],
)
def test_an_alias_inside_the_value_it_names_is_refused(text):
    with pytest.raises(YamlError) as info:
        load(text)
    assert info.value.line == 1
    assert "refers to the value that contains it" in info.value.message


@pytest.mark.parametrize(
    "text",
    [
        "x: " + "[" * 5000 + "]" * 5000 + "\n",  # past libyaml's own limit
        "x: " + "[" * 150 + "]" * 150 + "\n",  # within libyaml's, past nbflow's
        # Each alias adds a level: depth no single collection in the file has.
        "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 300)),
    ],
)
def test_deep_nesting_is_refused_at_a_line(text):
    with pytest.raises(YamlError) as info:
        load(text)
    assert "nest more than 100 levels deep" in info.value.message
    assert info.value.line is not None


@pytest.mark.parametrize(
    "text, message",
    [
        ('v: !!float "abc"\n', "!!float 'abc' is not a number"),
        ("v: !!int abc\n", "!!int 'abc' is not an integer"),
        ("v: !!bool yes\n", "!!bool 'yes' is not true or false"),
    ],
)
def test_an_explicit_tag_the_text_does_not_fit_is_an_error_at_its_line(text, message):
    with pytest.raises(YamlError) as info:
        load("a: 1\n" + text)
    assert info.value.line == 2
    assert message in info.value.message


def test_a_number_too_long_for_python_stays_text():
    digits = "9" * 4400  # Python refuses int() past 4300 digits
    assert value(digits) == digits
    assert value("9" * 4300) == int("9" * 4300)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\ufeff", "\ufffe"])
def test_a_character_yaml_does_not_allow_is_reported_at_its_line(char):
    with pytest.raises(YamlError) as info:
        load(f"a: 1\nb: x{char}y\n")
    assert info.value.line == 2
    assert f"U+{ord(char):04X}" in info.value.message


def test_a_byte_order_mark_at_the_start_is_fine():
    assert load("\ufeffa: 1\n").data == {"a": 1}


def test_a_lone_surrogate_escape_is_refused():
    with pytest.raises(YamlError) as info:
        load('a: 1\nb: "\\ud800"\n')
    assert info.value.line == 2


def test_errors_name_what_the_parser_found():
    with pytest.raises(YamlError) as info:
        load("a:\n\tb: 1\n")
    assert "'\\t'" in info.value.message
