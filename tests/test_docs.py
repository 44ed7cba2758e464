"""Unit tests of datareplay.plugins.docs: PLUGINS.md sections, index, groups and broken plugins."""

from __future__ import annotations

from typing import ClassVar

from datareplay import BasePlugin, DataHub, Param
from datareplay.plugins.docs import HEADER, plugin_section, render
from datareplay.plugins.registry import PluginInfo


class Detector(BasePlugin):
    """Find events | fast.

    Looks at the features and
    writes one row per event.
    """

    inputs: ClassVar[dict[str, str]] = {"features": "Per-sample features | with a pipe."}
    outputs: ClassVar[dict[str, str]] = {"events": "One row\n   per event."}

    threshold = Param(-3.0, "Braking limit, m/s².")
    mode = Param("fast", "How to search.", choices=("fast", "exact"))
    label = Param(required=True, type=str, description="A | label.")

    def run(self, hub: DataHub) -> None:
        hub["events"] = hub["features"]


class Bare(BasePlugin):
    """Does nothing."""

    def run(self, hub: DataHub) -> None:
        pass


class Alpha(BasePlugin):
    """First plugin."""

    outputs: ClassVar[dict[str, str]] = {"a": "A."}

    def run(self, hub: DataHub) -> None:
        pass


def info(plugin: type[BasePlugin], source: str, origin: str | None = None) -> PluginInfo:
    return PluginInfo(plugin.__name__, origin or f"{source}/{plugin.__name__}.py", source, plugin)


def broken(origin: str, error: str, source: str = "modules") -> PluginInfo:
    return PluginInfo(origin, origin, source, None, error)


# -- one plugin ---------------------------------------------------------------------------


def test_section_heading_summary_description_source() -> None:
    text = plugin_section(Detector, "modules/detector.py")
    assert text.startswith(
        "## Detector\n\nFind events | fast.\n\n"
        "Looks at the features and\nwrites one row per event.\n\n"
        "Source: `modules/detector.py`\n\n**Inputs**\n"
    )


def test_section_heading_level() -> None:
    assert plugin_section(Detector, "x", level=3).startswith("### Detector\n\n")
    assert plugin_section(Detector, "x", level=1).startswith("# Detector\n\n")


def test_section_ports_tables_escape_pipes_and_join_lines() -> None:
    text = plugin_section(Detector, "x")
    assert (
        "**Inputs**\n\n| name | description |\n| --- | --- |\n"
        "| `features` | Per-sample features \\| with a pipe. |\n"
    ) in text
    assert (
        "**Outputs**\n\n| name | description |\n| --- | --- |\n| `events` | One row per event. |\n"
    ) in text


def test_section_params_table() -> None:
    text = plugin_section(Detector, "x")
    assert (
        "**Params**\n\n| name | type | default | description |\n| --- | --- | --- | --- |\n"
    ) in text
    assert "| `threshold` | float | `-3.0` | Braking limit, m/s². |" in text
    assert "| `mode` | str | `'fast'` | How to search. One of 'fast', 'exact'. |" in text
    assert "| `label` | str | *required* | A \\| label. |" in text
    # params in declaration order
    assert text.index("`threshold`") < text.index("`mode`") < text.index("`label`")


def test_section_without_ports_or_params_says_none() -> None:
    text = plugin_section(Bare, "modules/bare.py")
    assert text == (
        "## Bare\n\nDoes nothing.\n\nSource: `modules/bare.py`\n\n"
        "**Inputs**\n\nNone.\n\n**Outputs**\n\nNone.\n\n**Params**\n\nNone.\n"
    )


def test_section_without_description_has_no_blank_paragraph() -> None:
    text = plugin_section(Alpha, "o")
    assert text.startswith("## Alpha\n\nFirst plugin.\n\nSource: `o`\n\n**Inputs**")


# -- the whole document -------------------------------------------------------------------


def test_render_index_groups_and_sections_in_order() -> None:
    infos = [
        info(Detector, "modules"),
        info(Bare, "modules"),
        info(Alpha, "datareplay (installed)", origin="datareplay.plugins.builtin.quality:Alpha"),
    ]
    text = render(infos)
    assert text.startswith(HEADER)
    assert (
        "| plugin | summary | from |\n| --- | --- | --- |\n"
        "| [Detector](#detector) | Find events \\| fast. | `modules/Detector.py` |\n"
        "| [Bare](#bare) | Does nothing. | `modules/Bare.py` |\n"
        "| [Alpha](#alpha) | First plugin. | `datareplay.plugins.builtin.quality:Alpha` |\n"
    ) in text
    first = text.index("## From modules\n")
    second = text.index("## From datareplay (installed)\n")
    assert first < second
    assert first < text.index("### Detector\n") < text.index("### Bare\n") < second
    assert second < text.index("### Alpha\n")
    assert text.count("## From ") == 2
    assert "## Broken plugins" not in text


def test_render_groups_follow_first_appearance() -> None:
    infos = [info(Alpha, "b-source"), info(Bare, "a-source"), info(Detector, "b-source")]
    text = render(infos)
    assert text.index("## From b-source") < text.index("## From a-source")
    # Detector is grouped with Alpha, before the a-source group
    assert text.index("### Detector") < text.index("## From a-source")


def test_render_lists_broken_plugins() -> None:
    infos = [
        info(Bare, "modules"),
        broken("modules/bad.py", "ImportError: no module\n named | x"),
        broken("modules/worse.py", "SyntaxError: x"),
    ]
    text = render(infos)
    assert "[bad" not in text  # broken plugins are not in the index
    assert "### modules/bad.py" not in text
    tail = text[text.index("## Broken plugins") :]
    assert tail == (
        "## Broken plugins\n\n"
        "- `modules/bad.py`: ImportError: no module named \\| x\n"
        "- `modules/worse.py`: SyntaxError: x\n"
    )
    assert text.index("## From modules") < text.index("## Broken plugins")


def test_render_plugin_with_error_is_broken_even_with_a_class() -> None:
    twice = PluginInfo("Bare", "modules/x.py", "modules", Bare, "offered twice")
    text = render([twice])
    assert "[Bare](#bare)" not in text
    assert "- `modules/x.py`: offered twice" in text


def test_render_ends_with_exactly_one_newline() -> None:
    for infos in ([], [info(Bare, "modules")], [broken("m.py", "boom")]):
        text = render(infos)
        assert text.endswith("\n")
        assert not text.endswith("\n\n")


def test_render_empty_has_header_and_empty_index() -> None:
    assert render([]) == HEADER + "\n| plugin | summary | from |\n| --- | --- | --- |\n"
