"""params: the parameters cell read as Python, declared types, `-p` values, and precedence."""

from __future__ import annotations

import nbformat
import pytest

from nbflow.core.errors import UsageError
from nbflow.core.paramtypes import type_problem
from nbflow.core.paramvalues import (
    notebook_inputs,
    parse_assignments,
    parse_cli_value,
    surrogate_problem,
)
from nbflow.workflows.paramcell import (
    NotebookParameter,
    ParametersCell,
    notebook_parameters,
    parameters_cell,
    parse_parameters_source,
    read_parameters,
    read_parameters_source,
)
from nbflow.workflows.params import check_overrides, inputs_for


def params(source: str) -> dict[str, dict]:
    return {p.name: p.as_dict() for p in parse_parameters_source(source)}


# -- the parameters cell -------------------------------------------------------------------


def test_a_following_statement_is_not_part_of_the_default():
    found = params("a = 1\nimport os\n")
    assert list(found) == ["a"]
    assert found["a"]["default"] == 1
    assert found["a"]["default_text"] == "1"
    assert found["a"]["literal"] is True


@pytest.mark.parametrize(
    "source, type_name, default",
    [
        ("x = 1", "int", 1),
        ("x = 1.5", "float", 1.5),
        ("x = -3.5", "float", -3.5),
        ("x = 'eu'", "str", "eu"),
        ("x = True", "bool", True),
        ("x = None", "None", None),
        ("x = [1, 2]", "list", [1, 2]),
        ("x = {'k': 1}", "dict", {"k": 1}),
        ("x: int = 2", "int", 2),
        ("x: float = 2", "float", 2),  # the annotation wins over the literal
        ("x: str | None = None", "str | None", None),
        ("x: list[int] = []", "list[int]", []),
    ],
)
def test_type_from_annotation_or_literal(source, type_name, default):
    found = params(source)["x"]
    assert found["type"] == type_name
    assert found["default"] == default
    assert found["literal"] is True


def test_help_from_the_trailing_comment():
    found = params("region = 'eu'  # where the data comes from\nn = 3\n")
    assert found["region"]["help"] == "where the data comes from"
    assert found["n"]["help"] == ""


def test_hash_inside_a_string_is_not_a_comment():
    found = params("tag = 'a # b'  # the tag\n")
    assert found["tag"]["default"] == "a # b"
    assert found["tag"]["help"] == "the tag"


def test_multi_line_values():
    source = (
        "regions = [\n    'eu',\n    'us',\n]  # all regions\ntext = '''one\ntwo'''\nafter = 1\n"
    )
    found = params(source)
    assert found["regions"]["default"] == ["eu", "us"]
    assert found["regions"]["help"] == "all regions"
    assert found["regions"]["default_text"] == "[\n    'eu',\n    'us',\n]"
    assert found["text"]["default"] == "one\ntwo"
    assert found["after"]["default"] == 1


def test_ipython_magics_and_shell_escapes_are_ignored():
    source = "%matplotlib inline\n!pip list\nn = 5\n  %time m = 1\nm = 2\n"
    found = params(source)
    assert list(found) == ["n", "m"]
    assert found["n"]["default"] == 5
    assert found["m"]["default"] == 2


def test_non_literal_default():
    found = params("import os\nhome = os.environ.get('HOME')  # where\n")
    assert list(found) == ["home"]
    assert found["home"]["literal"] is False
    assert found["home"]["default"] is None
    assert found["home"]["default_text"] == "os.environ.get('HOME')"
    assert found["home"]["type"] is None
    assert found["home"]["help"] == "where"


def test_non_literal_default_with_annotation_keeps_the_type():
    found = params("import datetime\nday: str = datetime.date.today().isoformat()\n")
    assert found["day"]["type"] == "str"
    assert found["day"]["literal"] is False


def test_only_simple_top_level_assignments_are_parameters():
    source = (
        "a, b = 1, 2\nc += 1\nd.e = 1\nif True:\n    f = 1\ndef g():\n    h = 1\ni: int\nj = 3\n"
    )
    assert list(params(source)) == ["j"]


def test_a_repeated_name_keeps_the_last_value():
    assert params("a = 1\na = 2\n")["a"]["default"] == 2


def test_a_cell_that_does_not_parse_declares_nothing():
    assert parse_parameters_source("a = (\n") == []


def test_empty_cell():
    assert parse_parameters_source("") == []


def test_notebook_parameters_reads_the_tagged_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("not_a_param = 0"),
        nbformat.v4.new_code_cell(
            "day = '2024-01-05'  # the day\nn = 3", metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_code_cell("later = 1"),
    ]
    path = tmp_path / "p.ipynb"
    nbformat.write(nb, str(path))
    assert parameters_cell(nb).source.startswith("day =")
    found = {p.name: p for p in notebook_parameters(path)}
    assert list(found) == ["day", "n"]
    assert found["day"].default == "2024-01-05"
    assert found["day"].help == "the day"


def test_notebook_without_parameters_cell(tmp_path):
    path = tmp_path / "p.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1")]), str(path))
    assert notebook_parameters(path) == []


def test_missing_or_unreadable_notebook_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such notebook"):
        notebook_parameters(tmp_path / "nope.ipynb")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("not json")
    with pytest.raises(UsageError, match="not a readable notebook"):
        notebook_parameters(bad)


# -- -p values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("007", "007"),
        ("1e3", 1000.0),
        ("12", 12),
        ("1.5", 1.5),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[1,2]", [1, 2]),
        ('{"a": [1, "x"]}', {"a": [1, "x"]}),
        ('"q"', "q"),
        ('"007"', "007"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
        ("1e999", "1e999"),  # infinity as a float: it would be stored, then unreadable JSON
        ("[1, -1e999]", "[1, -1e999]"),
        ("1e308", 1e308),
        ("plain text", "plain text"),
        ("eu", "eu"),
        ("True", True),  # papermill's -p reads Python's spellings
        ("False", False),
        ("None", None),
        ("TRUE", "TRUE"),
        ('"True"', "True"),
        ("2024-01-05", "2024-01-05"),
        ("", ""),
    ],
)
def test_parse_cli_value(text, expected):
    got = parse_cli_value(text)
    assert got == expected
    assert type(got) is type(expected)


def test_parse_assignments():
    assert parse_assignments(["a=1", "b=eu", "c=[1, 2]", "d=x=y", "e="]) == {
        "a": 1,
        "b": "eu",
        "c": [1, 2],
        "d": "x=y",
        "e": "",
    }


@pytest.mark.parametrize("item", ["novalue", "=1", " =1"])
def test_parse_assignments_missing_name_or_equals(item):
    with pytest.raises(UsageError, match="expected NAME=VALUE"):
        parse_assignments([item])


@pytest.mark.parametrize("item, name", [("1a=2", "1a"), ("a-b=1", "a-b"), ("a b=1", "a b")])
def test_parse_assignments_bad_name(item, name):
    with pytest.raises(UsageError) as info:
        parse_assignments([item])
    assert f"{name!r} is not a valid parameter name" in str(info.value)


# -- precedence ------------------------------------------------------------------------------


def test_workflow_parameters_go_only_to_declared_names():
    got = notebook_inputs(["region", "n"], {"region": "eu", "other": 1}, {})
    assert got == {"region": "eu"}


def test_task_parameters_win_over_workflow_parameters():
    got = notebook_inputs(["region"], {"region": "eu"}, {"region": "us"})
    assert got == {"region": "us"}


def test_task_parameters_are_passed_even_when_not_declared():
    got = notebook_inputs([], {"region": "eu"}, {"extra": [1, 2]})
    assert got == {"extra": [1, 2]}


def test_values_keep_their_types():
    got = notebook_inputs(["a", "b"], {"a": "007", "b": [1, "x"]}, {"c": {"k": None}})
    assert got == {"a": "007", "b": [1, "x"], "c": {"k": None}}
    assert isinstance(got["a"], str)


# -- IPython syntax in the parameters cell ---------------------------------------------------


def test_a_cell_with_ipython_syntax_is_read_as_ipython_runs_it():
    source = "files = !ls\n%matplotlib inline\nregion = 'eu'  # where\nn: int = 3\n"
    declared, error = read_parameters_source(source)
    assert error is None
    found = {p.name: p for p in declared}
    assert list(found) == ["files", "region", "n"]
    assert found["files"].default_text == "!ls"  # as written, not as IPython rewrites it
    assert found["files"].as_dict()["literal"] is False
    assert found["region"].default == "eu" and found["region"].help == "where"
    assert found["n"].type == "int" and found["n"].declared


def test_a_cell_magic_declares_nothing_but_is_readable():
    assert read_parameters_source("%%bash\necho hi\n") == ([], None)


def test_a_cell_that_is_not_python_says_where():
    declared, error = read_parameters_source("a = 1\nb = (\n")
    assert declared == []
    assert error is not None and error.startswith("line 2:")


def _notebook(path, source, language="python"):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "k", "display_name": "k", "language": language}
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})]
    nbformat.write(nb, str(path))
    return path


def test_read_parameters_tells_an_unreadable_cell_from_a_missing_one(tmp_path):
    broken = read_parameters(_notebook(tmp_path / "b.ipynb", "a = (\n"))
    assert broken.present and broken.error and broken.parameters == ()
    plain = tmp_path / "p.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), str(plain))
    assert read_parameters(plain) == ParametersCell(present=False)


def test_a_notebook_in_another_language_is_not_read_as_python(tmp_path):
    found = read_parameters(_notebook(tmp_path / "r.ipynb", "region <- 'eu'\n", language="R"))
    assert found.present and not found.python and found.error is None


def test_parameters_for_an_unreadable_cell_are_refused_not_dropped(tmp_path):
    path = _notebook(tmp_path / "b.ipynb", "a = (\n")
    with pytest.raises(UsageError, match=r"cannot be read as Python \(line 1"):
        inputs_for(path, {"region": "eu"}, {})
    assert inputs_for(path, {}, {}) == {}  # nothing to inject, nothing lost
    ipython = _notebook(tmp_path / "i.ipynb", "files = !ls\nregion = 'x'\n")
    assert inputs_for(ipython, {"region": "eu", "other": 1}, {}) == {"region": "eu"}


# -- declared types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, type_name, help_text",
    [
        ("n = 3  # type: int", "int", ""),
        ("n = 3  # type: int  how many", "int", "how many"),
        ("n = None  # type: list[str] | None  the names", "list[str] | None", "the names"),
    ],
)
def test_a_type_comment_declares_the_type(source, type_name, help_text):
    found = parse_parameters_source(source)[0]
    assert (found.type, found.help, found.declared) == (type_name, help_text, True)


def test_type_ignore_and_a_literal_default_declare_no_type():
    ignored, literal = parse_parameters_source("a = 1  # type: ignore\nb = 2\n")
    assert ignored.type == "int" and not ignored.declared
    assert literal.type == "int" and not literal.declared


def declared(type_text: str) -> NotebookParameter:
    return parse_parameters_source(f"p: {type_text} = None")[0]


@pytest.mark.parametrize(
    "type_text, value",
    [
        ("int", 5),
        ("float", 5),
        ("float", 2.5),
        ("str", "abc"),
        ("bool", False),
        ("str | None", None),
        ("Optional[int]", None),
        ("typing.Optional[int]", 3),
        ("list[int]", [1, 2]),
        ("List[str]", []),
        ("dict[str, int]", {"a": 1}),
        ("Literal['a', 'b']", "b"),
        ("'int'", 1),
        ("datetime.date", "2026-01-05"),  # a type nbflow does not know lets the value through
        ("pd.Timestamp", 3),
        ("Any", [1]),
        ("tuple[int, str]", [1, "a"]),
    ],
)
def test_values_that_fit_the_declared_type(type_text, value):
    assert type_problem(declared(type_text), value) is None


@pytest.mark.parametrize(
    "type_text, value, got",
    [
        ("int", "abc", "'abc' (str)"),
        ("int", 2.5, "2.5 (float)"),
        ("int", True, "True (bool)"),
        ("int", None, "None"),
        ("float", "0.5", "'0.5' (str)"),
        ("str", 7, "7 (int)"),
        ("bool", "False", "'False' (str)"),
        ("list[int]", [1, "a"], "[1, 'a'] (list)"),
        ("dict[str, int]", {"a": "b"}, "{'a': 'b'} (dict)"),
        ("Literal['a', 'b']", "c", "'c' (str)"),
        ("int | float", "x", "'x' (str)"),
    ],
)
def test_values_that_do_not_fit_the_declared_type(type_text, value, got):
    assert type_problem(declared(type_text), value) == f"expected {type_text}, got {got}"


def test_a_type_taken_from_a_literal_default_is_not_enforced():
    inferred = parse_parameters_source("n = 5")[0]
    assert type_problem(inferred, "abc") is None


# -- text that cannot travel ---------------------------------------------------------------------


def test_a_lone_surrogate_is_refused_with_a_sentence():
    assert surrogate_problem({"a": ["ok", "x\udcff"]}) == (
        "the text holds a lone surrogate (U+DCFF at character 2), which is not valid Unicode; "
        "give the value as UTF-8 text"
    )
    assert surrogate_problem({"\ud800": 1}) is not None  # in a key too
    assert surrogate_problem({"a": "naïve ✓ 😀"}) is None


def test_a_lone_surrogate_on_the_command_line_is_refused():
    # Undecodable bytes in argv arrive as lone surrogates (surrogateescape).
    with pytest.raises(UsageError, match=r"^-p name: the text holds a lone surrogate \(U\+DCFF"):
        parse_assignments(["name=caf\udcff"])


# -- run overrides ---------------------------------------------------------------------------------


@pytest.fixture
def typed_workflow(mini):
    _notebook(mini.root / "notebooks" / "t.ipynb", "top_n: int = 5\nlabel = 'x'\n")
    return mini.load(
        """
        parameters: {top_n: 5, label: x}
        tasks:
          - {key: rank, notebook: notebooks/t.ipynb}
        """
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"top_m": 3}, "workflow 'wf' has no parameter 'top_m' (did you mean 'top_n'?)"),
        (
            {"top_n": "abc"},
            "parameter 'top_n': notebooks/t.ipynb (task 'rank') declares top_n: int, "
            "got 'abc' (str)",
        ),
        (
            {"label": "{{params.top_n}}"},
            "parameter 'label': {{params.top_n}}: workflow parameters may refer to run.* only "
            "(write \\{{ for a literal '{{')",
        ),
        (
            {"label": "{{tasks.rank.values.x}}"},
            "parameter 'label': {{tasks.rank.values.x}}: workflow parameters cannot refer to tasks",
        ),
        ({"label": "a\udcff"}, "parameter 'label': the text holds a lone surrogate"),
    ],
)
def test_run_overrides_are_checked_before_the_run(typed_workflow, overrides, message):
    with pytest.raises(UsageError) as info:
        check_overrides(typed_workflow, overrides)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    "overrides",
    [
        {"top_n": 3},
        {"label": 7},  # `label = 'x'` declares no type
        {"label": "{{run.trigger.time.iso_date}}"},
        {"label": "\\{{params.top_n}} is literal"},
        {"top_n": "{{run.start_time.year}}"},  # known when the run starts
    ],
)
def test_run_overrides_that_pass(typed_workflow, overrides):
    check_overrides(typed_workflow, overrides)
