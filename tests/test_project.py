"""Unit tests of datareplay.project.paths: finding a project, cases, templates, creating a case."""

from __future__ import annotations

from pathlib import Path

import pytest

from datareplay.errors import UnknownNameError, UnsafeNameError, UsageError
from datareplay.project.paths import CASE_FILE, Project

TEMPLATE = b"description: from template\npipeline: []\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "config").mkdir(parents=True)
    (root / "cases").mkdir()
    (root / "templates").mkdir()
    (root / "templates" / "demo_case.yaml").write_bytes(TEMPLATE)
    (root / "templates" / "other_case.yaml").write_bytes(b"description: other\n")
    (root / "templates" / "notes.yaml").write_bytes(b"not a template\n")
    for case in ("demo", "night_drive"):
        (root / "cases" / case).mkdir()
        (root / "cases" / case / CASE_FILE).write_bytes(b"description: x\n")
    (root / "cases" / "empty_folder").mkdir()  # no case.yaml: not a case
    return root


@pytest.fixture
def project(root: Path) -> Project:
    return Project.at(root)


# -- finding a project --------------------------------------------------------------------


def test_find_from_a_nested_subfolder(root: Path) -> None:
    nested = root / "cases" / "demo" / "data" / "deep"
    nested.mkdir(parents=True)
    assert Project.find(nested).root == root.resolve()


def test_find_from_the_root_itself(root: Path) -> None:
    assert Project.find(root) == Project(root.resolve())


def test_find_defaults_to_the_current_folder(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root / "cases")
    assert Project.find().root == root.resolve()


def test_find_without_a_project_names_the_folder(tmp_path: Path) -> None:
    lonely = tmp_path / "lonely" / "sub"
    lonely.mkdir(parents=True)
    (lonely / "config").mkdir()  # config/ alone is not enough
    with pytest.raises(UsageError, match="no Data Replay project in ") as info:
        Project.find(lonely)
    assert str(lonely.resolve()) in str(info.value)
    assert "--project DIR" in str(info.value)


def test_at_on_a_non_project(tmp_path: Path) -> None:
    (tmp_path / "cases").mkdir()
    with pytest.raises(UsageError, match=r"is not a Data Replay project \(it needs config/"):
        Project.at(tmp_path)


def test_at_resolves_the_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root.parent)
    project = Project.at(Path("proj"))
    assert project.root == root.resolve()
    assert project.root.is_absolute()
    assert project.config_dir == project.root / "config"
    assert project.cases_dir == project.root / "cases"
    assert project.templates_dir == project.root / "templates"


# -- listing ------------------------------------------------------------------------------


def test_case_names_lists_folders_with_a_case_file(project: Project) -> None:
    assert project.case_names() == ["demo", "night_drive"]


def test_template_names_strip_the_suffix(project: Project) -> None:
    assert project.template_names() == ["demo", "other"]


def test_listings_without_folders(root: Path) -> None:
    (root / "templates" / "demo_case.yaml").unlink()
    (root / "templates" / "other_case.yaml").unlink()
    (root / "templates" / "notes.yaml").unlink()
    (root / "templates").rmdir()
    project = Project.at(root)
    assert project.template_names() == []


# -- case and template files --------------------------------------------------------------


def test_case_file_of_an_existing_case(project: Project) -> None:
    assert project.case_file("demo") == project.root / "cases" / "demo" / CASE_FILE


def test_unknown_case_suggests_a_close_name(project: Project) -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"^unknown case 'dem0' \(no cases/dem0/case\.yaml\); did you mean 'demo'\?$",
    ):
        project.case_file("dem0")


def test_unknown_case_lists_known_cases(project: Project) -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"unknown case 'zzz' .*; known cases: demo, night_drive; create a case with "
        r"--template NAME$",
    ):
        project.case_file("zzz")


def test_unknown_case_in_an_empty_project(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "cases").mkdir()
    with pytest.raises(UnknownNameError, match="known cases: none yet"):
        Project.at(tmp_path).case_file("demo")


def test_case_name_must_be_safe(project: Project) -> None:
    with pytest.raises(UnsafeNameError, match="invalid case name"):
        project.case_file("../demo")


def test_template_file_of_an_existing_template(project: Project) -> None:
    assert project.template_file("demo") == project.root / "templates" / "demo_case.yaml"


def test_unknown_template_suggests(project: Project) -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"^unknown template 'dmeo': no templates/dmeo_case\.yaml; did you mean 'demo'\?$",
    ):
        project.template_file("dmeo")


def test_unknown_template_lists_known_templates(project: Project) -> None:
    with pytest.raises(UnknownNameError, match=r"\(known templates: demo, other\)$"):
        project.template_file("zzzz")


def test_template_name_must_be_safe(project: Project) -> None:
    with pytest.raises(UnsafeNameError, match="invalid template name"):
        project.template_file("a/b")


# -- creating a case ----------------------------------------------------------------------


def test_create_case_copies_the_template_bytes(project: Project) -> None:
    assert project.create_case("fresh", "demo") is True
    assert (project.root / "cases" / "fresh" / CASE_FILE).read_bytes() == TEMPLATE
    assert "fresh" in project.case_names()


def test_create_case_identical_existing_returns_false(project: Project) -> None:
    assert project.create_case("fresh", "demo") is True
    assert project.create_case("fresh", "demo") is False
    assert (project.root / "cases" / "fresh" / CASE_FILE).read_bytes() == TEMPLATE


def test_create_case_refuses_a_different_existing_case(project: Project) -> None:
    target = project.root / "cases" / "demo" / CASE_FILE
    before = target.read_bytes()
    with pytest.raises(
        UsageError, match=r"case 'demo' already exists with a different cases/demo/case\.yaml"
    ):
        project.create_case("demo", "demo")
    assert target.read_bytes() == before


def test_create_case_into_an_existing_empty_folder(project: Project) -> None:
    assert project.create_case("empty_folder", "other") is True
    assert (project.root / "cases" / "empty_folder" / CASE_FILE).read_bytes() == (
        b"description: other\n"
    )


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "", "x" * 65, "a..b"])
def test_create_case_refuses_unsafe_names(project: Project, name: str) -> None:
    before = sorted(p.relative_to(project.root) for p in project.root.parent.rglob("*"))
    with pytest.raises(UnsafeNameError, match="invalid case name"):
        project.create_case(name, "demo")
    after = sorted(p.relative_to(project.root) for p in project.root.parent.rglob("*"))
    assert after == before


def test_create_case_from_an_unknown_template_creates_nothing(project: Project) -> None:
    with pytest.raises(UnknownNameError, match="unknown template 'nope'"):
        project.create_case("fresh", "nope")
    assert not (project.root / "cases" / "fresh").exists()


def test_create_case_refuses_a_file_in_place_of_the_folder(project: Project) -> None:
    (project.root / "cases" / "blocked").write_text("x", encoding="utf-8")
    with pytest.raises(UsageError, match=r"cases/blocked exists and is not a folder"):
        project.create_case("blocked", "demo")
    assert (project.root / "cases" / "blocked").read_text(encoding="utf-8") == "x"


# -- relative -----------------------------------------------------------------------------


def test_relative_inside_and_outside(project: Project, tmp_path: Path) -> None:
    assert project.relative(project.root / "cases" / "demo" / CASE_FILE) == "cases/demo/case.yaml"
    assert project.relative(project.root) == "."
    outside = tmp_path / "elsewhere.txt"
    assert project.relative(outside) == str(outside)
