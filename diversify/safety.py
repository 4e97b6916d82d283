"""A fast guard run on every .xlsx before any parser (openpyxl) reads it.

`inspect_workbook` refuses, with a message a planner can act on, what is not an .xlsx
workbook, a damaged archive, a zip bomb, XML with a DTD (billion laughs, external entities)
and absurdly large sheets. For a good file it reports each sheet's extent and its formula
cells saved without a result. Declared sizes are checked before anything is decompressed;
members are then read as a counted stream through expat, keeping no element, so time and
memory stay bounded whatever the file claims.
"""

from __future__ import annotations

import os
import posixpath
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from xml.parsers import expat

from diversify.errors import InputError, Issue

MiB = 1 << 20
MAX_MEMBERS = 10_000  # files inside the zip archive
MAX_CENTRAL_DIRECTORY = 4 * MiB  # the archive's table of contents, checked before it is read
MAX_TOTAL_BYTES = 256 * MiB  # uncompressed, all members together
MAX_MEMBER_BYTES = 128 * MiB  # uncompressed, one member
MAX_RATIO = 200  # uncompressed / compressed size of a member larger than RATIO_FLOOR
RATIO_FLOOR = 1 * MiB
MAX_ROWS = 100_000
MAX_COLS = 1_000
MAX_CELLS = 500_000  # per sheet: far beyond any planner's workbook, scanned in < 1 s
MAX_ELEMENTS = 3 * MAX_CELLS  # XML elements in all sheets together: bounds the scan's time
MAX_UNCACHED_FORMULAS = 100_000  # per sheet: bounds the memory of the result
MAX_SHARED_STRINGS_BYTES = 64 * MiB  # uncompressed xl/sharedStrings.xml
MAX_SHARED_STRINGS = 1_000_000  # <si> entries in it
CHUNK = 1 * MiB

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, or an encrypted .xlsx
SHARED_STRINGS = "xl/sharedStrings.xml"
RESAVE = "open it in Excel and save it again as an Excel workbook (.xlsx)"
DIGITS = "0123456789"


@dataclass
class SheetScan:
    max_row: int = 0  # of the cells actually present; 0 for a sheet without cells
    max_col: int = 0
    cells: int = 0
    uncached_formulas: set[tuple[int, int]] = field(default_factory=set)  # (row, col), 1-based


@dataclass
class WorkbookScan:
    sheets: dict[str, SheetScan]  # by name, in workbook order


def assert_defusedxml() -> None:
    """Raise RuntimeError unless openpyxl parses XML through defusedxml."""
    try:
        import defusedxml  # noqa: F401
    except ImportError as e:
        raise RuntimeError(
            "defusedxml is not installed, so openpyxl would be open to XML entity attacks "
            "(pip install defusedxml)"
        ) from e
    import openpyxl.xml

    if getattr(openpyxl.xml, "DEFUSEDXML", True) is not True:
        raise RuntimeError("openpyxl does not parse XML through defusedxml")


def inspect_workbook(
    path: str | os.PathLike[str], keep: Callable[[str], bool] | None = None
) -> WorkbookScan:
    """Check an .xlsx file is safe to hand to openpyxl; `InputError` says why it is not.
    `keep`: the sheets that will be read (their titles; all when None) are scanned cell
    by cell within the limits; the others, never read, only for what any XML part is
    checked for (a plan's results tables grow with its scenarios: a large plan's
    Recovery sheet must not stop `evaluate` or `stress`, which read its Plan sheet)."""
    assert_defusedxml()
    path = Path(path)
    _sniff(path)
    try:
        with path.open("rb") as f:
            _check_directory(path, f)
            with zipfile.ZipFile(f) as zf:
                return _Archive(path, zf).scan(keep)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as e:
        raise _refuse(
            f"{path} is damaged, not a readable .xlsx workbook ({e}); "
            "if it opens in Excel, save it again as .xlsx"
        ) from e
    except OSError as e:
        raise _refuse(f"{path} cannot be read: {e.strerror or e}") from e


def _refuse(message: str, sheet: str | None = None) -> InputError:
    return InputError([Issue(sheet, None, None, message)])


def _sniff(path: Path) -> None:
    """Refuse what is not a zip archive, saying what it looks like instead."""
    if not path.exists():
        raise _refuse(f"{path}: no such file")
    if path.is_dir():
        raise _refuse(f"{path} is a folder, not an Excel workbook")
    if not path.is_file():
        raise _refuse(f"{path} is not a regular file, not an Excel workbook")
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise _refuse(f"{path} cannot be read: {e.strerror or e}") from e
    if not head:
        raise _refuse(f"{path} is empty (0 bytes), not an Excel workbook")
    if head.startswith(b"PK"):
        return
    if head.startswith(OLE2):
        raise _refuse(
            f"{path} is an old Excel 97-2003 (.xls) file or a password-protected workbook; "
            "open it in Excel and save it as an unencrypted .xlsx workbook"
        )
    text = _as_text(head)
    if text is not None and text.lstrip().startswith("<"):
        raise _refuse(f"{path} is an HTML or XML text file renamed .xlsx; {RESAVE}")
    if text is not None and any(sep in text for sep in ",;\t"):
        raise _refuse(
            f"{path} is a CSV (text) file renamed .xlsx, not an Excel workbook; open it in "
            "Excel and save it as an Excel workbook (.xlsx)"
        )
    raise _refuse(
        f"{path} is not an .xlsx workbook (it is not a zip archive); "
        "save it from Excel as an Excel workbook (.xlsx)"
    )


def _as_text(head: bytes) -> str | None:
    """The start of a text file, or None if `head` looks binary."""
    for bom, encoding in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            return head[2:].decode(encoding, errors="replace")
    if b"\0" in head:
        return None
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    printable = sum((c.isprintable() and c != "\ufffd") or c in "\t\r\n" for c in text)
    return text if printable >= 0.95 * len(text) else None


def _check_directory(path: Path, f: BinaryIO) -> None:
    """Refuse too many members from the archive's end record, before zipfile reads (and
    keeps in memory) the whole central directory."""
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - 22 - 0xFFFF))  # the end record, then at most a 64 KiB comment
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # zipfile reports the damage
    members, directory = struct.unpack_from("<HL", tail, at + 10)
    if members == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":  # zip64
        f.seek(struct.unpack_from("<Q", tail, at - 12)[0])
        record = f.read(56)
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            members, directory = struct.unpack_from("<QQ", record, 32)
    if members > MAX_MEMBERS:
        raise _too_many(path, members)
    if directory > MAX_CENTRAL_DIRECTORY:
        raise _refuse(
            f"refused: the table of contents of {path}'s zip archive is {_mib(directory)} "
            f"(the limit is {_mib(MAX_CENTRAL_DIRECTORY)}; a workbook's is a few KiB): "
            "a possible attack"
        )


def _too_many(path: Path, members: int) -> InputError:
    return _refuse(
        f"refused: {path} holds {members:,} files inside its zip archive (the limit is "
        f"{MAX_MEMBERS:,}; a workbook has a few dozen): a possible attack"
    )


def _mib(n: int) -> str:
    return f"{n / MiB:,.0f} MiB"


def _xml_parser() -> expat.XMLParserType:
    """An expat parser refusing DTDs, entity declarations and external references with
    defusedxml's exceptions, as defusedxml's own parsers do with forbid_dtd=True."""
    from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

    def doctype(name: str, sysid: str | None, pubid: str | None, _: bool) -> None:
        raise DTDForbidden(name, sysid, pubid)

    def entity(name: str, _: bool, value: str | None, *rest: str | None) -> None:
        raise EntitiesForbidden(name, value, *rest)  # base, sysid, pubid, notation

    def unparsed(name: str, *rest: str | None) -> None:
        raise EntitiesForbidden(name, None, *rest)  # base, sysid, pubid, notation

    def external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> None:
        raise ExternalReferenceForbidden(context, base, sysid, pubid)

    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = unparsed
    parser.ExternalEntityRefHandler = external
    return parser


ODF_PREFIX = "application/vnd.oasis.opendocument."


class _Archive:
    """One open .xlsx: members read as a counted stream, each XML part parsed once."""

    def __init__(self, path: Path, zf: zipfile.ZipFile):
        self.path, self.zf = path, zf
        self.names = set(zf.namelist())
        self.unpacked = 0  # bytes actually decompressed so far
        self.elements = 0  # XML elements read in sheets so far
        self.parsed: set[str] = set()

    def scan(self, keep: Callable[[str], bool] | None = None) -> WorkbookScan:
        self.check_sizes()
        self.refuse_opendocument()
        for required in ("[Content_Types].xml", "xl/workbook.xml"):
            if required not in self.names:
                raise _refuse(
                    f"{self.path} is not an Excel workbook: its zip archive has no {required} "
                    "(is it another kind of file renamed .xlsx, or damaged?)"
                )
        sheets = self.sheets()
        if SHARED_STRINGS in self.names:
            self.check_shared_strings()
        scans = {}
        for name, (kind, part) in sheets.items():
            if part not in self.names:
                raise _refuse(f"{self.path} is damaged: part {part} is missing; {RESAVE}", name)
            if keep is not None and not keep(name):
                continue  # parsed below, as every other part
            scans[name] = _scan_sheet(self, name, part) if kind == "worksheet" else SheetScan()
        for name in sorted(self.names - self.parsed):  # an entity attack in any other part
            if name.lower().endswith((".xml", ".rels")):
                self.parse(name)
        return WorkbookScan(scans)

    def refuse_opendocument(self) -> None:
        """An OpenDocument file (LibreOffice's .ods) names its kind in a `mimetype` member."""
        if "mimetype" not in self.names or self.zf.getinfo("mimetype").file_size > 200:
            return
        kind = self.zf.read("mimetype").decode("ascii", "replace").strip()
        if not kind.startswith(ODF_PREFIX):
            return
        what = kind[len(ODF_PREFIX) :]
        if what == "spreadsheet":
            raise _refuse(
                f"{self.path} is an OpenDocument spreadsheet (.ods, LibreOffice Calc's own "
                "format), not an Excel workbook. In LibreOffice Calc choose File > Save As, "
                "file type 'Excel 2007-365 (.xlsx)', click 'Use Excel 2007-365!', and pass "
                "the .xlsx file"
            )
        raise _refuse(
            f"{self.path} is an OpenDocument {what} file, not a spreadsheet: pass the Excel "
            "workbook (.xlsx) that holds the input sheets"
        )

    def check_sizes(self) -> None:
        """The sizes the archive declares, before anything is decompressed."""
        infos = self.zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _too_many(self.path, len(infos))
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_BYTES:
            raise _refuse(
                f"refused: {self.path} would unpack to {_mib(total)} (the limit is "
                f"{_mib(MAX_TOTAL_BYTES)}): a possible zip bomb"
            )
        for i in infos:
            limit = _limit(i.filename)
            if i.file_size > limit:
                raise _refuse(
                    f"refused: {i.filename} inside {self.path} would unpack to "
                    f"{_mib(i.file_size)} (the limit is {_mib(limit)}): a possible zip bomb, "
                    "or far more data than a planning workbook holds"
                )
            ratio = i.file_size / max(i.compress_size, 1)
            if i.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
                raise _refuse(
                    f"refused: {i.filename} inside {self.path} is compressed {ratio:,.0f} to 1 "
                    f"(the limit is {MAX_RATIO} to 1): a possible zip bomb"
                )
            if i.flag_bits & 0x1:
                raise _refuse(
                    f"{self.path} is password-protected; save it as an unencrypted .xlsx workbook"
                )

    def chunks(self, name: str) -> Iterator[bytes]:
        """A member's bytes, stopped at the limits whatever sizes the archive declares."""
        limit, read = _limit(name), 0
        with self.zf.open(name) as member:
            while chunk := member.read(CHUNK):
                read += len(chunk)
                self.unpacked += len(chunk)
                if read > limit or self.unpacked > MAX_TOTAL_BYTES:
                    raise _refuse(
                        f"refused: {name} inside {self.path} unpacks to more than "
                        f"{_mib(min(limit, MAX_TOTAL_BYTES))} (the limit), more than the "
                        "archive declares: a possible zip bomb"
                    )
                yield chunk

    def parse(
        self,
        name: str,
        start: Callable[[str, Any], None] | None = None,
        parser: expat.XMLParserType | None = None,
        sheet: str | None = None,
    ) -> None:
        """Stream one XML member through `start(element name as 'namespace}local', attrs)`."""
        from defusedxml import DefusedXmlException

        self.parsed.add(name)
        parser = parser or _xml_parser()
        parser.StartElementHandler = start
        try:
            for chunk in self.chunks(name):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except DefusedXmlException as e:
            raise _refuse(
                f"refused: the file contains XML entity declarations (a possible attack), in "
                f"{name}; Excel never writes these, so {self.path} is not safe to read",
                sheet,
            ) from e
        except expat.ExpatError as e:
            raise _refuse(
                f"{self.path} is damaged: {name} is not valid XML ({e}); {RESAVE}", sheet
            ) from e

    def sheets(self) -> dict[str, tuple[str, str]]:
        """Sheet name -> (kind such as 'worksheet' or 'chartsheet', part), workbook order."""
        ids: list[tuple[str, str | None]] = []
        rels: dict[str | None, tuple[str, str]] = {}

        def sheet(name: str, attrs: dict[str, str]) -> None:
            if name.endswith("}sheet"):  # r:id is the only namespaced "id"
                rid = next((v for k, v in attrs.items() if k.endswith("}id")), None)
                ids.append((attrs.get("name", ""), rid))

        def relationship(name: str, attrs: dict[str, str]) -> None:
            if name.endswith("}Relationship") and attrs.get("TargetMode") != "External":
                target = attrs.get("Target", "")
                part = target[1:] if target.startswith("/") else "xl/" + target
                kind = attrs.get("Type", "").rpartition("/")[2]
                rels[attrs.get("Id")] = (kind, posixpath.normpath(part))

        self.parse("xl/workbook.xml", sheet)
        if "xl/_rels/workbook.xml.rels" in self.names:
            self.parse("xl/_rels/workbook.xml.rels", relationship)
        sheets = {}
        for name, rid in ids:
            if rid not in rels:
                raise _refuse(
                    f"{self.path} is damaged: the workbook does not say where this sheet's "
                    f"data is; {RESAVE}",
                    name,
                )
            sheets[name] = rels[rid]
        return sheets

    def check_shared_strings(self) -> None:
        count = 0

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal count
            count += name.endswith("}si")
            if count > MAX_SHARED_STRINGS:
                raise _refuse(
                    f"refused: {self.path} holds more than {MAX_SHARED_STRINGS:,} different "
                    "texts (the limit)"
                )

        self.parse(SHARED_STRINGS, start)


def _limit(member: str) -> int:
    return MAX_SHARED_STRINGS_BYTES if member == SHARED_STRINGS else MAX_MEMBER_BYTES


def column_letters(col: int) -> str:
    """1 -> 'A', 1000 -> 'ALL'."""
    letters = ""
    while col > 0:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_COLUMNS = {column_letters(c): c for c in range(1, MAX_COLS + 1)}


def _attr(attrs: list[str], key: str) -> str | None:
    """An attribute from expat's ordered [name, value, name, value, ...] list."""
    for i in range(0, len(attrs) - 1, 2):
        if attrs[i] == key:
            return attrs[i + 1]
    return None


def _scan_sheet(archive: _Archive, sheet: str, part: str) -> SheetScan:
    """Cells of a worksheet part, from expat's start-element events and the text of formula
    cells' <v>, counted as openpyxl does: a row or cell without `r` follows the previous one.
    Elements count in the sheet's own namespace (transitional or strict OOXML) only."""
    scan = SheetScan()
    parser = _xml_parser()
    parser.ordered_attributes = True  # faster than a dict, and `r` comes first
    kinds: dict[str, str] = {}  # 'namespace}c' -> 'c', ...
    budget = MAX_ELEMENTS - archive.elements
    row = col = cell_row = 0  # where the last row and cell were
    row_digits = "?"  # the last row's `r`, which its cells' references usually end with
    cell: list[str] = []  # the current cell's attributes
    formula = cached = False  # the current cell has <f>; its result was seen

    def start(name: str, attrs: list[str]) -> None:
        nonlocal budget, row, row_digits, col, cell_row, cell, formula, cached
        budget -= 1
        if budget < 0:
            raise _refuse(
                f"refused: the sheets hold more than {MAX_ELEMENTS:,} XML elements (the limit); "
                "delete unused rows and columns",
                sheet,
            )
        kind = kinds.get(name)
        if kind == "c":
            if formula:
                end_cell()
            ref = attrs[1] if attrs and attrs[0] == "r" else _attr(attrs, "r")
            if ref:
                letters = ref.rstrip(DIGITS)
                col = _COLUMNS.get(letters) or _bad_column(sheet, ref)
                digits = ref[len(letters) :]
                cell_row = row if digits == row_digits else _row_number(sheet, digits, ref)
            else:
                col, cell_row = col + 1, row
            if cell_row > MAX_ROWS or col > MAX_COLS:
                raise _too_far(sheet, f"cell {ref or column_letters(col) + str(cell_row)}")
            scan.cells += 1
            if scan.cells > MAX_CELLS:
                raise _refuse(
                    f"refused: the sheet has more than {MAX_CELLS:,} cells (the limit); "
                    "delete unused rows and columns",
                    sheet,
                )
            if cell_row > scan.max_row:
                scan.max_row = cell_row
            if col > scan.max_col:
                scan.max_col = col
            cell = attrs
        elif kind == "v" and formula:  # a t="str" result may be empty; others have text
            if _attr(cell, "t") == "str":
                cached = True
            else:
                parser.CharacterDataHandler = text
        elif kind == "f" and col:
            formula = True
        elif kind == "row":
            if formula:
                end_cell()
            if row > MAX_ROWS:  # the last row was too far, and had no cell
                raise _too_far(sheet, f"row {row}")
            r = _attr(attrs, "r")
            row, col = (_row_number(sheet, r, None) if r else row + 1), 0
            row_digits = r or "?"  # "?" ends no reference
        elif not kinds:  # the root element, <worksheet> in the sheet's namespace
            ns = name.rpartition("}")[0]
            kinds.update({f"{ns}}}{k}": k for k in ("c", "f", "v", "row")})

    def text(data: str) -> None:
        nonlocal cached
        cached = cached or not data.isspace()

    def end_cell() -> None:
        nonlocal formula, cached
        if formula:
            parser.CharacterDataHandler = None
            if not cached:
                scan.uncached_formulas.add((cell_row, col))
                if len(scan.uncached_formulas) > MAX_UNCACHED_FORMULAS:
                    raise _refuse(
                        f"refused: more than {MAX_UNCACHED_FORMULAS:,} formulas have no saved "
                        f"result (the limit); {RESAVE}",
                        sheet,
                    )
        formula = cached = False

    archive.parse(part, start, parser, sheet)
    end_cell()
    if row > MAX_ROWS:
        raise _too_far(sheet, f"row {row}")
    archive.elements = MAX_ELEMENTS - budget
    return scan


def _row_number(sheet: str, digits: str, ref: str | None) -> int:
    row = int(digits) if digits.isdigit() and digits.isascii() and len(digits) < 10 else 0
    if row < 1:
        raise _refuse(f"the file is damaged (bad row number {ref or digits!r}); {RESAVE}", sheet)
    return row


def _bad_column(sheet: str, ref: str) -> int:
    letters = ref.rstrip(DIGITS)
    if letters.isascii() and letters.isalpha() and letters.isupper() and len(letters) <= 3:
        raise _too_far(sheet, f"cell {ref}")
    raise _refuse(f"the file is damaged (bad cell reference {ref!r}); {RESAVE}", sheet)


def _too_far(sheet: str, what: str) -> InputError:
    return _refuse(
        f"refused: {what} is beyond the limit of {MAX_ROWS:,} rows and {MAX_COLS:,} columns "
        f"(column {column_letters(MAX_COLS)}); delete the unused rows and columns after the "
        "data, then save again",
        sheet,
    )
