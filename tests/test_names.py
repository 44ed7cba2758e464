"""Unit tests of datareplay.project.names: safe names and paths that stay inside the project."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datareplay.errors import UnsafeNameError, UsageError
from datareplay.project.names import check_name, contained_path, inside

SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


# -- check_name ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["demo", "Demo_2", "a", "7", "run-01", "v1.2.3", "a.b", "x" * 64, "A_b-c.d", "a-", "a."],
)
def test_check_name_accepts_safe_names(name: str) -> None:
    assert check_name(name, kind="case") == name


BAD_NAMES = {
    "parent": "../x",
    "parent_only": "..",
    "dot": ".",
    "absolute": "/abs",
    "separator": "a/b",
    "backslash": "a\\b",
    "empty": "",
    "nul": "a\x00b",
    "too_long": "x" * 65,
    "cyrillic_e": "d\u0435mo",  # 'е' U+0435 looks like 'e'
    "cyrillic_a": "\u0430bc",  # 'а' U+0430 looks like 'a'
    "fullwidth": "\uff44emo",
    "leading_dot": ".hidden",
    "leading_dash": "-rf",
    "leading_underscore": "_x",
    "dotdot_inside": "a..b",
    "dotdot_end": "a..",
    "space": "my case",
    "trailing_newline": "demo\n",
    "tab": "de\tmo",
    "colon": "c:x",
    "star": "a*",
    "tilde": "~user",
}


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_check_name_refuses_unsafe_names(name: str) -> None:
    with pytest.raises(UnsafeNameError) as info:
        check_name(name, kind="case")
    message = str(info.value)
    assert message.startswith("invalid case name ")
    assert "1-64 ASCII letters" in message


def test_check_name_error_is_a_usage_error_and_names_the_kind() -> None:
    with pytest.raises(UsageError, match=r"invalid template name '\.\./x'"):
        check_name("../x", kind="template")


def test_check_name_shortens_very_long_values_in_the_message() -> None:
    with pytest.raises(UnsafeNameError) as info:
        check_name("y" * 500, kind="step")
    assert len(str(info.value)) < 300
    assert "..." in str(info.value)


@pytest.mark.parametrize("value", [None, 5, b"demo", ["demo"]])
def test_check_name_refuses_non_text(value: object) -> None:
    with pytest.raises(UnsafeNameError, match="case name must be text"):
        check_name(value, kind="case")


# -- contained_path ----------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    return project.resolve()


def test_relative_path_inside_is_resolved(root: Path) -> None:
    result = contained_path("data/x.parquet", base=root, roots=[root], what="src")
    assert result == root / "data" / "x.parquet"
    assert result.is_absolute()


def test_dotdot_that_stays_inside_is_allowed(root: Path) -> None:
    result = contained_path("data/../other/x.csv", base=root, roots=[root], what="src")
    assert result == root / "other" / "x.csv"


def test_relative_to_base_below_root(root: Path) -> None:
    base = root / "cases" / "demo"
    result = contained_path("data", base=base, roots=[root], what="src")
    assert result == base / "data"


def test_root_itself_is_inside(root: Path) -> None:
    assert contained_path(".", base=root, roots=[root], what="src") == root


@pytest.mark.parametrize(
    "value", ["../x.parquet", "data/../../x.parquet", "../../../../../../etc/passwd", ".."]
)
def test_traversal_is_refused(root: Path, value: str) -> None:
    with pytest.raises(UnsafeNameError) as info:
        contained_path(value, base=root, roots=[root], what="data source 'x'")
    message = str(info.value)
    assert message.startswith("data source 'x': path ")
    assert "resolves outside the project" in message
    assert "allowed_roots" in message


def test_absolute_path_outside_is_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "x.parquet"
    with pytest.raises(UnsafeNameError, match="resolves outside the project"):
        contained_path(str(outside), base=root, roots=[root], what="src")
    with pytest.raises(UnsafeNameError):
        contained_path("/etc/passwd", base=root, roots=[root], what="src")


def test_absolute_path_inside_is_accepted(root: Path) -> None:
    target = root / "data" / "x.parquet"
    assert contained_path(str(target), base=root / "data", roots=[root], what="s") == target


def test_sibling_folder_with_same_prefix_is_outside(root: Path) -> None:
    sibling = root.parent / (root.name + "2")
    sibling.mkdir()
    with pytest.raises(UnsafeNameError):
        contained_path(str(sibling / "x"), base=root, roots=[root], what="src")
    with pytest.raises(UnsafeNameError):
        contained_path(f"../{root.name}2/x", base=root, roots=[root], what="src")


def test_symlink_pointing_outside_is_refused(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("a\n1\n")
    (root / "data" / "link").symlink_to(outside, target_is_directory=True)
    (root / "file_link.csv").symlink_to(outside / "secret.csv")
    with pytest.raises(UnsafeNameError, match="resolves outside"):
        contained_path("data/link/secret.csv", base=root, roots=[root], what="src")
    with pytest.raises(UnsafeNameError, match="resolves outside"):
        contained_path("file_link.csv", base=root, roots=[root], what="src")


def test_symlink_pointing_inside_is_accepted_and_resolved(root: Path) -> None:
    (root / "data" / "real.csv").write_text("a\n1\n")
    (root / "alias.csv").symlink_to(root / "data" / "real.csv")
    result = contained_path("alias.csv", base=root, roots=[root], what="src")
    assert result == root / "data" / "real.csv"


def test_symlinked_root_still_contains_its_files(tmp_path: Path, root: Path) -> None:
    link = tmp_path / "project_link"
    link.symlink_to(root, target_is_directory=True)
    result = contained_path("data/x", base=link, roots=[link], what="src")
    assert result == root / "data" / "x"


def test_allowed_extra_root_lets_path_through(root: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    roots = [root, shared]
    result = contained_path("../shared/rec.parquet", base=root, roots=roots, what="src")
    assert result == shared.resolve() / "rec.parquet"
    absolute = contained_path(str(shared / "b.csv"), base=root, roots=iter(roots), what="src")
    assert absolute == shared.resolve() / "b.csv"
    with pytest.raises(UnsafeNameError):
        contained_path("../other/x", base=root, roots=roots, what="src")


def test_error_lists_allowed_roots(root: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    with pytest.raises(UnsafeNameError) as info:
        contained_path("/nope/x", base=root, roots=[root, shared], what="src")
    assert str(root) in str(info.value)
    assert str(shared) in str(info.value)


@pytest.mark.parametrize("value", ["", "data/\x00x", "\x00"])
def test_empty_or_nul_path_is_refused(root: Path, value: str) -> None:
    with pytest.raises(UnsafeNameError, match="empty or contains a NUL"):
        contained_path(value, base=root, roots=[root], what="src")


def test_inside_accepts_root_and_children_only(root: Path) -> None:
    assert inside(root, [root])
    assert inside(root / "a" / "b", [root])
    assert not inside(root.parent, [root])
    assert not inside(root / ".." / "x", [root])
    assert not inside(root, [])


# -- property ------------------------------------------------------------------------------

_BASE = Path(os.sep, "srv", "datareplay-names-test", "cases").resolve()

_names = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"[A-Za-z0-9._/\\-]{0,70}", fullmatch=True),
    st.text(alphabet="a.-_/\x00\u0435", max_size=10),
)


@settings(max_examples=300, deadline=None)
@given(_names)
def test_check_name_either_refuses_or_returns_a_contained_name(value: str) -> None:
    try:
        name = check_name(value, kind="case")
    except UnsafeNameError:
        return
    assert name == value
    assert SAFE.fullmatch(name)
    assert len(name) <= 64
    assert ".." not in name
    joined = (_BASE / name).resolve()
    assert joined.parent == _BASE
    assert joined.is_relative_to(_BASE) and joined != _BASE
