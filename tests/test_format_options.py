"""Reader and writer ``options:`` of data sources, and Excel workbooks as raw sources."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from datareplay.data.excel import read_excel
from datareplay.data.formats import FORMATS
from datareplay.data.source import DataSource
from datareplay.data.storage import LocalStorage
from datareplay.errors import ConfigError, PersistenceError
from test_config_manager import sources_of


def test_csv_options_read_semicolons_and_decimal_commas(tmp_path: Path) -> None:
    raw = tmp_path / "raw" / "drive.csv"
    raw.parent.mkdir()
    raw.write_text("zeit;wert\n2024-01-01 00:00:00;1,5\n2024-01-01 00:00:01;-2,25\n")
    sources = sources_of(
        tmp_path,
        "data_sources:\n  drive:\n    path: raw/drive.csv\n    read_only: true\n"
        "    options: {sep: ';', decimal: ',', parse_dates: [zeit]}\n",
    )
    frame = LocalStorage().read(sources["drive"])
    assert list(frame.columns) == ["zeit", "wert"]
    assert frame["wert"].tolist() == [1.5, -2.25]
    assert frame["zeit"].dtype.kind == "M"


def test_unknown_option_is_a_config_error_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        sources_of(
            tmp_path,
            "data_sources:\n  drive:\n    path: raw/drive.csv\n    read_only: true\n"
            "    options: {sepp: ';'}\n",
        )
    message = str(info.value)
    assert message.startswith("cases/demo/case.yaml:")
    assert "data_sources.drive.options: unknown option 'sepp' for format csv" in message
    assert "did you mean 'sep'?" in message


def test_options_depend_on_the_format(tmp_path: Path) -> None:
    sources = sources_of(
        tmp_path,
        "data_sources:\n  out: {format: parquet, options: {compression: snappy}}\n"
        "  sheet: {path: raw/a.xlsx, read_only: true, options: {sheet: Laps, skiprows: 1}}\n",
    )
    assert sources["out"].format_options == {"compression": "snappy"}
    assert sources["sheet"].format.name == "excel"
    with pytest.raises(ConfigError, match="unknown option 'sheet' for format parquet"):
        sources_of(tmp_path, "data_sources:\n  out: {format: parquet, options: {sheet: x}}\n")


def test_writer_options_reach_the_file(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.5, 2.0], "b": [3, 4]})
    source = DataSource(
        "t", FORMATS["csv"], tmp_path / "t.csv", options=(("sep", ";"), ("decimal", ","))
    )
    LocalStorage().write(source, frame)
    assert source.path is not None
    assert source.path.read_text().splitlines() == ["a;b", "1,5;3", "2,0;4"]
    pd.testing.assert_frame_equal(LocalStorage().read(source), frame)


def test_parquet_compression_option(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    frame = pd.DataFrame({"a": range(100)})
    source = DataSource(
        "t", FORMATS["parquet"], tmp_path / "t.parquet", options=(("compression", "gzip"),)
    )
    LocalStorage().write(source, frame)
    assert (
        pq.ParquetFile(tmp_path / "t.parquet").metadata.row_group(0).column(0).compression == "GZIP"
    )


@pytest.mark.parametrize(
    "text",
    ["a,b\n1,2,3\n4,5,6\n", "a,b\n1,2\n3,4,5\n"],
    ids=["every-row-longer", "one-row-longer"],
)
def test_csv_rows_longer_than_the_header_are_an_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "x.csv").write_text(text)
    source = DataSource("x", FORMATS["csv"], tmp_path / "x.csv", read_only=True)
    with pytest.raises(PersistenceError, match="cannot read data source 'x'"):
        LocalStorage().read(source)


# -- Excel -----------------------------------------------------------------------------


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Drives"
    first.append(["date", "distance_km", "driver"])
    first.append([dt.datetime(2024, 3, 1, 8, 30), 12.5, "Ana"])
    first.append([dt.datetime(2024, 3, 2, 17, 0), 7.25, "Bo"])
    second = book.create_sheet("Laps")
    second.append(["exported by the logger"])
    second.append(["lap", "seconds"])
    second.append([1, 61.5])
    second.append([2, 59.0])
    path = tmp_path / "raw" / "shuttles.xlsx"
    path.parent.mkdir()
    book.save(path)
    return path


@pytest.mark.parametrize("reader", ["calamine", "openpyxl"])
def test_excel_first_sheet_by_default(workbook: Path, reader: str) -> None:
    if reader == "calamine":
        pytest.importorskip("python_calamine")
    frame = read_excel(workbook, {}, reader=reader)
    assert list(frame.columns) == ["date", "distance_km", "driver"]
    assert frame["date"].tolist() == [
        pd.Timestamp("2024-03-01 08:30"),
        pd.Timestamp("2024-03-02 17:00"),
    ]
    assert frame["distance_km"].tolist() == [12.5, 7.25]
    assert frame["driver"].tolist() == ["Ana", "Bo"]


def test_excel_source_reads_a_named_sheet_with_options(tmp_path: Path, workbook: Path) -> None:
    sources = sources_of(
        tmp_path,
        "data_sources:\n  laps:\n    path: raw/shuttles.xlsx\n    read_only: true\n"
        "    options: {sheet: Laps, skiprows: 1}\n",
    )
    frame = LocalStorage().read(sources["laps"])
    assert frame.to_dict("list") == {"lap": [1, 2], "seconds": [61.5, 59.0]}


def test_excel_source_must_be_read_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        sources_of(tmp_path, "data_sources:\n  laps: {path: raw/shuttles.xlsx}\n")
    assert "data_sources.laps: format excel is read only; set read_only: true" in str(info.value)


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm", ".xls", ".ods", ".XLSX"])
def test_workbook_suffixes_choose_excel(tmp_path: Path, suffix: str) -> None:
    yaml = f"data_sources:\n  w: {{path: raw/w{suffix}, read_only: true}}\n"
    assert sources_of(tmp_path, yaml)["w"].format.name == "excel"


def test_excel_cannot_be_the_default_format(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format excel is read only; the default format"):
        sources_of(tmp_path, "data:\n  default_format: excel\ndata_sources:\n  a: {}\n")


def test_series_and_arrays_through_storage(tmp_path: Path) -> None:
    import numpy as np

    storage = LocalStorage()
    series = pd.Series([1.5, None], index=pd.Index(["a", "b"], name="k"), name="v")
    source = DataSource("s", FORMATS["parquet"], tmp_path / "s.parquet")
    storage.write(source, series)
    pd.testing.assert_series_equal(storage.read(source), series)
    array = np.arange(6.0).reshape(2, 3)
    npy = DataSource("a", FORMATS["npy"], tmp_path / "a.npy")
    storage.write(npy, array)
    np.testing.assert_array_equal(storage.read(npy), array)


def test_refused_write_names_source_format_and_loss(tmp_path: Path) -> None:
    frame = pd.DataFrame({"v": [1.0]}, index=pd.Index(["a"], name="sensor"))
    source = DataSource("means", FORMATS["csv"], tmp_path / "means.csv")
    with pytest.raises(PersistenceError) as info:
        LocalStorage().write(source, frame)
    assert str(info.value) == (
        "could not write data source 'means' as csv: csv cannot keep the index 'sensor'; "
        "use parquet or feather, or reset the index; nothing was written, "
        "the previous version is kept"
    )
    assert not (tmp_path / "means.csv").exists()
