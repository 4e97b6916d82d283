"""The guard run on every .xlsx before openpyxl: good files pass, hostile ones are refused
quickly with a message naming the problem. Every file is built in tmp_path."""

from __future__ import annotations

import os
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from workbooks import example_2, write_workbook

from diversify import safety
from diversify.errors import InputError
from diversify.reader import read_problem
from diversify.safety import assert_defusedxml, inspect_workbook

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT = "http://purl.oclc.org/ooxml/spreadsheetml/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = (
    '<?xml version="1.0"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
)
WORKBOOK = (
    f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">'
    '<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
LOLS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
BILLION_LAUGHS = f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">{LOLS}]>'
XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def sheet_xml(body: str, ns: str = MAIN, after: str = "") -> str:
    return f'<worksheet xmlns="{ns}"><sheetData>{body}</sheetData>{after}</worksheet>'


def craft(path: Path, sheet: str | None = None, parts: dict[str, str | None] | None = None) -> Path:
    """A minimal .xlsx written by hand: one sheet 'Data' (`sheet`), with `parts` added or
    replaced (None drops a part)."""
    members = {
        "[Content_Types].xml": CONTENT_TYPES,
        "xl/workbook.xml": WORKBOOK,
        "xl/_rels/workbook.xml.rels": RELS,
        "xl/worksheets/sheet1.xml": sheet or sheet_xml('<row r="1"><c r="A1"><v>1</v></c></row>'),
    }
    members.update(parts or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in members.items():
            if text is not None:
                z.writestr(name, text)
    return path


def refused(path: Path) -> InputError:
    """The InputError the guard raises for `path`, which must take under 2 s."""
    t = time.perf_counter()
    with pytest.raises(InputError) as e:
        inspect_workbook(path)
    assert time.perf_counter() - t < 2
    assert len(e.value.issues) == 1
    return e.value


# -- good files ------------------------------------------------------------------------------


def test_valid_workbook_reports_extent_in_order(tmp_path):
    wb = openpyxl.Workbook()
    data = wb.active
    data.title = "Data"
    for row in range(1, 6):
        data.append([row, f"text {row}", row * 1.5])
    data["E9"] = "far"
    wb.create_sheet("Empty")
    wb.create_chartsheet("Chart")
    wb.create_sheet("Last")["B2"] = 1
    path = tmp_path / "good.xlsx"
    wb.save(path)

    scan = inspect_workbook(path)
    assert list(scan.sheets) == ["Data", "Empty", "Chart", "Last"]
    assert (scan.sheets["Data"].max_row, scan.sheets["Data"].max_col) == (9, 5)
    assert scan.sheets["Data"].cells == 16
    assert scan.sheets["Data"].uncached_formulas == set()
    assert scan.sheets["Empty"] == safety.SheetScan()
    assert scan.sheets["Chart"] == safety.SheetScan()
    last = scan.sheets["Last"]
    assert (last.max_row, last.max_col, last.cells) == (2, 2, 1)


def test_cells_and_rows_without_r_follow_the_previous_one(tmp_path):
    body = '<row><c><v>1</v></c><c/></row><row r="5"><c/><c r="D5"/><c/></row><row><c/></row>'
    scan = inspect_workbook(craft(tmp_path / "x.xlsx", sheet_xml(body)))
    data = scan.sheets["Data"]
    assert (data.max_row, data.max_col, data.cells) == (6, 5, 6)


def test_strict_ooxml_namespace_and_prefixes_are_read(tmp_path):
    sheet = (
        f'<x:worksheet xmlns:x="{STRICT}"><x:sheetData><x:row r="3">'
        '<x:c r="C3"><x:f>1+1</x:f></x:c></x:row></x:sheetData></x:worksheet>'
    )
    data = inspect_workbook(craft(tmp_path / "x.xlsx", sheet)).sheets["Data"]
    assert (data.max_row, data.max_col, data.cells, data.uncached_formulas) == (3, 3, 1, {(3, 3)})


@pytest.mark.parametrize(
    ("cell", "uncached"),
    [
        # no <v>: saved by a program that does not calculate
        ('<c r="B2"><f>1+1</f></c>', {(2, 2)}),
        ('<c r="B2"><f>1+1</f><v/></c>', {(2, 2)}),  # openpyxl writes an empty <v/>
        ('<c r="B2"><f>1+1</f><v>2</v></c>', set()),
        ('<c r="B2" t="str"><f>""</f><v></v></c>', set()),  # Excel: a formula giving ""
        ('<c r="B2" t="e"><f>1/0</f><v>#DIV/0!</v></c>', set()),
        ('<c r="B2" t="inlineStr"><is><t>f</t></is></c>', set()),
    ],
)
def test_formula_without_cached_value_is_detected(tmp_path, cell, uncached):
    body = f'<row r="2"><c r="A2"><v>1</v></c>{cell}<c r="C2" s="1"/></row>'
    data = inspect_workbook(craft(tmp_path / "f.xlsx", sheet_xml(body))).sheets["Data"]
    assert data.uncached_formulas == uncached
    assert (data.max_row, data.max_col, data.cells) == (2, 3, 3)


def test_formulas_of_other_namespaces_after_the_cells_are_not_cells(tmp_path):
    ext = (
        '<extLst><ext uri="x"><x14:dataValidations xmlns:x14="urn:x14" xmlns:xm="urn:xm">'
        "<x14:dataValidation><x14:formula1><xm:f>Lists!$A$1:$A$5</xm:f></x14:formula1>"
        "</x14:dataValidation></x14:dataValidations></ext></extLst>"
    )
    sheet = sheet_xml('<row r="1"><c r="A1" s="2"/></row>', after=ext)
    data = inspect_workbook(craft(tmp_path / "x.xlsx", sheet)).sheets["Data"]
    assert data.uncached_formulas == set()


def test_openpyxl_formulas_are_uncached(tmp_path):
    wb = openpyxl.Workbook()
    wb.active["A1"], wb.active["C4"] = 1, "=A1*2"
    wb.save(tmp_path / "f.xlsx")
    assert inspect_workbook(tmp_path / "f.xlsx").sheets["Sheet"].uncached_formulas == {(4, 3)}


def test_a_1_mb_workbook_is_fast(tmp_path):
    def row(r: int) -> str:
        cells = (f'<c r="{c}{r}"><v>{(r * 7919 + i * 104729) % 99991 / 7}</v></c>'
                 for i, c in enumerate("ABCDEFGHIJ"))  # fmt: skip
        return f'<row r="{r}">{"".join(cells)}</row>'

    path = craft(tmp_path / "big.xlsx", sheet_xml("".join(row(r) for r in range(1, 15_001))))
    assert os.path.getsize(path) > 1_000_000
    t = time.perf_counter()
    data = inspect_workbook(path).sheets["Data"]
    assert time.perf_counter() - t < 1
    assert (data.max_row, data.max_col, data.cells) == (15_000, 10, 150_000)


# -- not a workbook --------------------------------------------------------------------------


def test_missing_file_and_folder(tmp_path):
    assert "no such file" in str(refused(tmp_path / "nope.xlsx"))
    assert "folder" in str(refused(tmp_path))
    with pytest.raises(InputError, match="is a folder: name the workbook in it"):
        read_problem(tmp_path)  # as every command reads it


def test_empty_file(tmp_path):
    (tmp_path / "e.xlsx").write_bytes(b"")
    assert "empty" in str(refused(tmp_path / "e.xlsx"))


def test_random_bytes(tmp_path):
    (tmp_path / "r.xlsx").write_bytes(bytes(range(256)) * 40)
    assert "not an .xlsx workbook" in str(refused(tmp_path / "r.xlsx"))


def test_csv_renamed(tmp_path):
    (tmp_path / "c.xlsx").write_text("supplier,material,capacity\nAcme,Nd,100\n", encoding="utf-8")
    message = str(refused(tmp_path / "c.xlsx"))
    assert "CSV" in message and "save it as an Excel workbook (.xlsx)" in message


def test_ole2_xls_or_encrypted(tmp_path):
    (tmp_path / "o.xlsx").write_bytes(safety.OLE2 + bytes(600))
    message = str(refused(tmp_path / "o.xlsx"))
    assert ".xls" in message and "save it as an unencrypted .xlsx workbook" in message


@pytest.mark.parametrize("name", ["mine.xls", "mine.XLSX", "mine"])
def test_an_xlsx_workbook_whatever_its_name_ends_in_is_read_by_what_it_holds(tmp_path, name):
    """Saved as .xls (or with no ending) but an .xlsx inside: openpyxl refused it by its
    name ("does not support the old .xls file format, please use xlrd"); the guard has
    checked the content, so it is read like any other."""
    original = write_workbook(tmp_path / "ex2.xlsx", example_2())
    renamed = tmp_path / name
    renamed.write_bytes(original.read_bytes())
    a, b = read_problem(original), read_problem(renamed)
    assert (a.years, a.offers, a.demand_t) == (b.years, b.offers, b.demand_t)


def test_corrupt_and_truncated_zip(tmp_path):
    (tmp_path / "z.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    assert "damaged" in str(refused(tmp_path / "z.xlsx"))
    good = craft(tmp_path / "g.xlsx").read_bytes()
    (tmp_path / "t.xlsx").write_bytes(good[: len(good) // 2])
    assert "damaged" in str(refused(tmp_path / "t.xlsx"))


@pytest.mark.parametrize("part", ["xl/workbook.xml", "[Content_Types].xml"])
def test_zip_missing_a_required_part(tmp_path, part):
    path = craft(tmp_path / "m.xlsx", parts={part: None})
    message = str(refused(path))
    assert part in message and "not an Excel workbook" in message


def test_missing_sheet_part_names_the_sheet(tmp_path):
    error = refused(craft(tmp_path / "m.xlsx", parts={"xl/worksheets/sheet1.xml": None}))
    assert error.issues[0].sheet == "Data" and "xl/worksheets/sheet1.xml" in str(error)


def test_password_flag(tmp_path):
    data = bytearray(craft(tmp_path / "p.xlsx").read_bytes())
    data[data.rfind(b"PK\x01\x02") + 8] |= 0x1  # a member's "encrypted" flag
    (tmp_path / "p.xlsx").write_bytes(data)
    assert "password" in str(refused(tmp_path / "p.xlsx"))


# -- XML attacks -----------------------------------------------------------------------------


def entity_message(error: InputError) -> str:
    message = str(error)
    assert "refused: the file contains XML entity declarations (a possible attack)" in message
    return message


def test_billion_laughs_in_a_sheet(tmp_path):
    body = '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    error = refused(craft(tmp_path / "b.xlsx", BILLION_LAUGHS + sheet_xml(body)))
    assert "xl/worksheets/sheet1.xml" in entity_message(error)
    assert error.issues[0].sheet == "Data"


def test_sheets_that_will_not_be_read_are_not_held_to_the_cell_limits(tmp_path, monkeypatch):
    """A plan's results tables grow with its scenarios; `evaluate` and `stress` read its
    Plan and input sheets alone. A results sheet past the cell limit stopped them
    (found with the limit lowered: a plan of ~500 scenarios of large has one). Sheets
    that will not be read are parsed only as every other XML part is: an entity attack
    there is still refused."""
    body = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c></row>' for r in range(1, 51))
    path = craft(tmp_path / "w.xlsx", sheet_xml(body))
    monkeypatch.setattr(safety, "MAX_CELLS", 20)
    assert "more than 20 cells" in str(refused(path))
    assert inspect_workbook(path, keep=lambda title: title != "Data").sheets == {}
    bomb = BILLION_LAUGHS + sheet_xml(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    )
    with pytest.raises(InputError, match="entit"):
        inspect_workbook(craft(tmp_path / "b.xlsx", bomb), keep=lambda title: False)


def test_billion_laughs_in_the_workbook(tmp_path):
    workbook = WORKBOOK.replace('name="Data"', 'name="&lol9;"')
    error = refused(
        craft(tmp_path / "b.xlsx", parts={"xl/workbook.xml": BILLION_LAUGHS + workbook})
    )
    assert "xl/workbook.xml" in entity_message(error)


def test_external_entity(tmp_path):
    body = '<row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row>'
    entity_message(refused(craft(tmp_path / "x.xlsx", XXE + sheet_xml(body))))
    rels = XXE + RELS.replace('Target="worksheets/sheet1.xml"', 'Target="&xxe;"')
    entity_message(refused(craft(tmp_path / "r.xlsx", parts={"xl/_rels/workbook.xml.rels": rels})))


def test_entities_in_any_other_xml_part(tmp_path):
    core = XXE + '<coreProperties xmlns="urn:x"><title>&xxe;</title></coreProperties>'
    assert "docProps/core.xml" in entity_message(
        refused(craft(tmp_path / "d.xlsx", parts={"docProps/core.xml": core}))
    )


# -- zip bombs -------------------------------------------------------------------------------


def with_member(path: Path, name: str, mib: int, fill: bytes = b" ") -> Path:
    """A crafted workbook plus `name`: <x>, `mib` MiB of `fill`, </x>. Written as a stream
    and compressed, so it stays small on disk."""
    craft(path)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open(name, "w") as f:
            f.write(b"<x>")
            for _ in range(mib):
                f.write(fill * safety.MiB)
            f.write(b"</x>")
    return path


def test_zip_bomb_by_declared_size(tmp_path):
    path = with_member(tmp_path / "bomb.xlsx", "xl/worksheets/sheet2.xml", 300, fill=b"\0")
    assert os.path.getsize(path) < 2_000_000
    message = str(refused(path))
    assert "zip bomb" in message and "256 MiB" in message


def test_zip_bomb_by_compression_ratio(tmp_path):
    message = str(refused(with_member(tmp_path / "r.xlsx", "xl/styles.xml", 5)))
    assert "zip bomb" in message and "200 to 1" in message and "xl/styles.xml" in message


def test_bytes_read_are_capped_when_declared_sizes_lie(tmp_path, monkeypatch):
    path = with_member(tmp_path / "lie.xlsx", "xl/styles.xml", 5)
    monkeypatch.setattr(safety._Archive, "check_sizes", lambda self: None)  # believe anything
    monkeypatch.setattr(safety, "MAX_MEMBER_BYTES", 2 * safety.MiB)
    message = str(refused(path))
    assert "more than 2 MiB" in message and "xl/styles.xml" in message


def test_too_many_members(tmp_path):
    path = craft(tmp_path / "many.xlsx")
    with zipfile.ZipFile(path, "a") as z:
        for i in range(safety.MAX_MEMBERS):
            z.writestr(f"xl/media/{i}.bin", b"")
    message = str(refused(path))
    assert "10,004 files" in message and "10,000" in message


def test_oversized_table_of_contents_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_CENTRAL_DIRECTORY", 100)
    assert "table of contents" in str(refused(craft(tmp_path / "x.xlsx")))


# -- absurd sheets ---------------------------------------------------------------------------


def test_cell_at_xfd1048576(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Data"
    wb.active["A1"], wb.active["XFD1048576"] = 1, 2
    wb.save(tmp_path / "far.xlsx")
    assert os.path.getsize(tmp_path / "far.xlsx") < 6000
    error = refused(tmp_path / "far.xlsx")
    assert error.issues[0].sheet == "Data"
    for part in ("XFD1048576", "100,000 rows", "1,000 columns", "delete the unused rows"):
        assert part in str(error)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('<row r="1"><c r="ALM1"/></row>', "cell ALM1"),  # column 1,001
        ('<row r="100001"><c r="A100001"/></row>', "cell A100001"),
        ('<row r="200000"/><row r="200001"/>', "row 200000"),  # empty rows count too
        ('<row r="1"/><row r="200000" spans="1:2"/>', "row 200000"),
        ("<row>" + "<c/>" * 1001 + "</row>", "cell ALM1"),
    ],
)
def test_cells_beyond_the_limits(tmp_path, body, named):
    message = str(refused(craft(tmp_path / "x.xlsx", sheet_xml(body))))
    assert named in message and "100,000" in message


@pytest.mark.parametrize("ref", ["1A", "A0", "a1", "AAAA1", "A", "A1.5"])
def test_bad_cell_reference_is_damage(tmp_path, ref):
    message = str(refused(craft(tmp_path / "x.xlsx", sheet_xml(f'<row><c r="{ref}"/></row>'))))
    assert "damaged" in message


def test_too_many_cells(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_CELLS", 10)
    body = "".join(f'<row r="{r}"><c r="A{r}"/><c r="B{r}"/></row>' for r in range(1, 7))
    error = refused(craft(tmp_path / "x.xlsx", sheet_xml(body)))
    assert error.issues[0].sheet == "Data" and "more than 10 cells" in str(error)


def test_too_many_elements_in_all_sheets(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_ELEMENTS", 50)
    body = '<row r="1"><c r="A1"><is><t>x</t></is></c></row>' + "<x/>" * 60
    error = refused(craft(tmp_path / "x.xlsx", sheet_xml(body)))
    assert "more than 50 XML elements" in str(error)


def test_too_many_uncached_formulas(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_UNCACHED_FORMULAS", 1)
    body = '<row r="1"><c r="A1"><f>1</f></c><c r="B1"><f>2</f></c></row>'
    assert "more than 1 formulas have no saved result" in str(
        refused(craft(tmp_path / "x.xlsx", sheet_xml(body)))
    )


def test_too_many_shared_strings(tmp_path, monkeypatch):
    monkeypatch.setattr(safety, "MAX_SHARED_STRINGS", 3)
    sst = f'<sst xmlns="{MAIN}">' + "<si><t>x</t></si>" * 4 + "</sst>"
    assert "more than 3 different texts" in str(
        refused(craft(tmp_path / "s.xlsx", parts={"xl/sharedStrings.xml": sst}))
    )


# -- defusedxml ------------------------------------------------------------------------------


def test_assert_defusedxml(monkeypatch):
    assert_defusedxml()
    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)
    with pytest.raises(RuntimeError, match="defusedxml"):
        assert_defusedxml()
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "defusedxml", None)  # import fails
    with pytest.raises(RuntimeError, match="not installed"):
        assert_defusedxml()


def _opendocument(path: Path, kind: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", f"application/vnd.oasis.opendocument.{kind}")
        zf.writestr("content.xml", '<?xml version="1.0"?><office:document-content/>')
        zf.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest/>')
    return path


@pytest.mark.parametrize("suffix", [".ods", ".xlsx"])
def test_an_opendocument_spreadsheet_is_named_and_how_to_save_it_said(tmp_path, suffix):
    message = str(refused(_opendocument(tmp_path / f"plan{suffix}", "spreadsheet")))
    assert "OpenDocument spreadsheet (.ods" in message
    assert "File > Save As" in message and "Excel 2007-365 (.xlsx)" in message
    assert "[Content_Types].xml" not in message


def test_an_opendocument_text_is_not_taken_for_a_spreadsheet(tmp_path):
    message = str(refused(_opendocument(tmp_path / "notes.odt", "text")))
    assert "OpenDocument text file, not a spreadsheet" in message


def test_sheets_read_for_their_values_alone_pass_the_guard_first(tmp_path, monkeypatch):
    """calamine (load_raw's values_only) aborts on some hostile files: it reads only what
    the guard has passed, and an entity attack in such a sheet is refused by the guard."""
    from diversify import reader

    bomb = BILLION_LAUGHS + sheet_xml(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
    )
    read: list[str] = []
    monkeypatch.setattr(reader, "_values", lambda path, titles: read.extend(titles) or {})
    with pytest.raises(InputError, match="entit"):
        reader.load_raw(craft(tmp_path / "b.xlsx", bomb), values_only=lambda title: True)
    assert read == []
