"""A fast guard run on every .xlsx before any parser (openpyxl) reads it.

`inspect_workbook` refuses, with a message a planner can act on, files that are not
.xlsx workbooks, damaged archives, zip bombs, XML with entity declarations (billion laughs,
external entities) and absurdly large sheets; for a good file it reports each sheet's
extent and the formula cells saved without a result. It reads the archive as a stream with
expat (no element is kept), refusing any DTD the way `defusedxml` does, so time and memory
stay bounded whatever the file declares.
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
from typing import BinaryIO
from xml.parsers import expat

from diversify.errors import InputError, Issue

MiB = 1 << 20
MAX_MEMBERS = 10_000  # files inside the zip archive
MAX_CENTRAL_DIRECTORY = 4 * MiB  # the archive's table of contents, checked before it is parsed
MAX_TOTAL_BYTES = 256 * MiB  # uncompressed, all members
MAX_MEMBER_BYTES = 128 * MiB  # uncompressed, one member
MAX_RATIO = 200  # uncompressed / compressed, for a member larger than RATIO_FLOOR
RATIO_FLOOR = 1 * MiB
MAX_ROWS = 100_000
MAX_COLS = 1_000
MAX_CELLS = 2_000_000  # per sheet
MAX_ELEMENTS = 8_000_000  # XML elements in all sheets together (bounds the scan's time)
MAX_SHARED_STRINGS_BYTES = 64 * MiB
MAX_SHARED_STRINGS = 1_000_000
MAX_UNCACHED_FORMULAS = 100_000  # per sheet
CHUNK = 1 * MiB

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SHARED_STRINGS = "xl/sharedStrings.xml"
RESAVE = "open it in Excel and save it again as an Excel workbook (.xlsx)"


@dataclass
class SheetScan:
    max_row: int = 0  # of the cells actually present; 0 for an empty sheet
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
            "defusedxml is not installed: openpyxl would be open to XML "
            "entity attacks (pip install defusedxml)"
        ) from e
    import openpyxl.xml

    if getattr(openpyxl.xml, "DEFUSEDXML", True) is not True:
        raise RuntimeError(
            "openpyxl does not use defusedxml (was it imported before defusedxml was installed?)"
        )


def inspect_workbook(path: str | os.PathLike[str]) -> WorkbookScan:
    """Check an .xlsx file is safe to hand to openpyxl; `InputError` says why not."""
    assert_defusedxml()
    path = Path(path)
    _sniff(path)
    try:
        with path.open("rb") as f:
            _check_directory(path, f)
            with zipfile.ZipFile(f) as zf:
                return _Archive(path, zf).scan()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
        ValueError,
        NotImplementedError,
        struct.error,
    ) as e:
        raise _refuse(
            f"{path} is damaged, not a readable .xlsx workbook ({e}); "
            "if it opens in Excel, save it again as .xlsx"
        ) from e
    except RuntimeError as e:  # zipfile: "File ... is encrypted, password required"
        raise _refuse(
            f"{path} is password-protected; save it as an unencrypted .xlsx workbook"
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
            f"{path} is an old Excel 97-2003 (.xls) file or a password-protected "
            "workbook; open it in Excel and save it as an unencrypted .xlsx workbook"
        )
    text = _as_text(head)
    if text is not None and text.lstrip().startswith("<"):
        raise _refuse(
            f"{path} is an HTML or XML text file renamed to .xlsx, not an Excel workbook; {RESAVE}"
        )
    if text is not None and any(sep in text for sep in ",;\t"):
        raise _refuse(
            f"{path} is a CSV (text) file renamed to .xlsx, not an Excel workbook; {RESAVE}"
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
    printable = sum(c.isprintable() or c in "\t\r\n" for c in text)
    return text if printable >= 0.95 * len(text) else None


def _check_directory(path: Path, f: BinaryIO) -> None:
    """Refuse an archive with too many members from its end record, before zipfile reads
    (and keeps in memory) the whole central directory."""
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - 22 - 65535))  # the end record, then at most a 64 KiB comment
    tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # zipfile reports the damage
    members, directory = struct.unpack_from("<HL", tail, at + 10)
    if members == 0xFFFF and tail[at - 20 : at - 16] == b"PK\x06\x07":  # zip64
        f.seek(struct.unpack_from("<Q", tail, at - 12)[0])
        record = f.read(56)
        if record[:4] == b"PK\x06\x06":
            members, directory = struct.unpack_from("<QQ", record, 32)
    if members > MAX_MEMBERS or directory > MAX_CENTRAL_DIRECTORY:
        raise _too_many(path, members)


def _too_many(path: Path, members: int) -> InputError:
    return _refuse(
        f"refused: {path} holds {members:,} files inside its zip archive (the limit "
        f"is {MAX_MEMBERS:,}; a workbook has a few dozen): a possible attack"
    )


def _mib(n: int) -> str:
    return f"{n / MiB:,.0f} MiB"


class _Archive:
    """One open .xlsx: its members read as a bounded stream, each XML part parsed once."""

    def __init__(self, path: Path, zf: zipfile.ZipFile):
        self.path, self.zf = path, zf
        self.unpacked = 0  # bytes actually decompressed so far
        self.elements = 0  # XML elements seen in sheets so far
        self.parsed: set[str] = set()

    def scan(self) -> WorkbookScan:
        self._check_sizes()
        names = set(self.zf.namelist())
        for required in ("[Content_Types].xml", "xl/workbook.xml"):
            if required not in names:
                raise _refuse(
                    f"{self.path} is not an Excel workbook: its zip archive has no "
                    f"{required} (is it a Word or other Office file, or damaged?)"
                )
        sheets = self._sheets()
        if SHARED_STRINGS in names:
            self._check_shared_strings()
        scans = {}
        for name, (kind, part) in sheets.items():
            if part not in names:
                raise _refuse(
                    f"{self.path} is damaged: the sheet's part {part} is missing; {RESAVE}", name
                )
            scans[name] = (
                _SheetScanner(self, name).scan(part) if kind == "worksheet" else (SheetScan())
            )
        for name in sorted(names - self.parsed):  # entity attacks in any other XML part
            if name.lower().endswith((".xml", ".rels")):
                self.parse(name)
        return WorkbookScan(scans)

    def _check_sizes(self) -> None:
        """The archive's declared sizes, before anything is decompressed."""
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
            limit = MAX_SHARED_STRINGS_BYTES if i.filename == SHARED_STRINGS else (MAX_MEMBER_BYTES)
            if i.file_size > limit:
                raise _refuse(
                    f"refused: {i.filename} inside {self.path} would unpack to "
                    f"{_mib(i.file_size)} (the limit is {_mib(limit)}): a possible "
                    "zip bomb, or far more data than a planning workbook holds"
                )
            ratio = i.file_size / max(i.compress_size, 1)
            if i.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
                raise _refuse(
                    f"refused: {i.filename} inside {self.path} is compressed "
                    f"{ratio:,.0f} to 1 (the limit is {MAX_RATIO} to 1): a possible "
                    "zip bomb"
                )

    def chunks(self, name: str) -> Iterator[bytes]:
        """A member's bytes, stopping at the limits whatever sizes the archive declares."""
        limit = MAX_SHARED_STRINGS_BYTES if name == SHARED_STRINGS else MAX_MEMBER_BYTES
        read = 0
        with self.zf.open(name) as member:
            while chunk := member.read(CHUNK):
                read += len(chunk)
                self.unpacked += len(chunk)
                if read > limit or self.unpacked > MAX_TOTAL_BYTES:
                    raise _refuse(
                        f"refused: {name} inside {self.path} unpacks to more than "
                        f"{_mib(min(limit, MAX_TOTAL_BYTES))} although the archive "
                        "declares less: a possible zip bomb"
                    )
                yield chunk

    def parse(
        self,
        name: str,
        start: Callable[[str, dict[str, str]], None] | None = None,
        parser: expat.XMLParserType | None = None,
        sheet: str | None = None,
    ) -> None:
        """Stream one XML member through `start` (element name as 'namespace}local')."""
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
                f"refused: the file contains XML entity declarations (a possible "
                f"attack) in {name}; {self.path} was not written by Excel, "
                "do not use it",
                sheet,
            ) from e
        except expat.ExpatError as e:
            raise _refuse(
                f"{self.path} is damaged: {name} is not valid XML ({e}); {RESAVE}", sheet
            ) from e

    def _sheets(self) -> dict[str, tuple[str, str]]:
        """Sheet name -> (kind such as 'worksheet' or 'chartsheet', part), workbook order."""
        ids: list[tuple[str, str | None]] = []

        def sheet(name: str, attrs: dict[str, str]) -> None:
            if name.endswith("}sheet"):
                rid = next((v for k, v in attrs.items() if k.endswith("}id")), None)
                ids.append((attrs.get("name", ""), rid))

        rels: dict[str, tuple[str, str]] = {}

        def relationship(name: str, attrs: dict[str, str]) -> None:
            if name.endswith("}Relationship") and attrs.get("TargetMode") != "External":
                target = attrs.get("Target", "")
                part = target[1:] if target.startswith("/") else "xl/" + target
                rels[attrs.get("Id", "")] = (
                    attrs.get("Type", "").rpartition("/")[2],
                    posixpath.normpath(part),
                )

        self.parse("xl/workbook.xml", sheet)
        if ids:
            if "xl/_rels/workbook.xml.rels" not in self.zf.namelist():
                raise _refuse(
                    f"{self.path} is damaged: xl/_rels/workbook.xml.rels is missing; {RESAVE}"
                )
            self.parse("xl/_rels/workbook.xml.rels", relationship)
        sheets = {}
        for name, rid in ids:
            if rid not in rels:
                raise _refuse(
                    f"{self.path} is damaged: the workbook does not say where the "
                    f"sheet's data is; {RESAVE}",
                    name,
                )
            sheets[name] = rels[rid]
        return sheets

    def _check_shared_strings(self) -> None:
        count = 0

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal count
            if name.endswith("}si"):
                count += 1
                if count > MAX_SHARED_STRINGS:
                    raise _refuse(
                        f"refused: {self.path} holds more than "
                        f"{MAX_SHARED_STRINGS:,} different texts (the limit)"
                    )

        self.parse(SHARED_STRINGS, start)


def _xml_parser() -> expat.XMLParserType:
    """An expat parser refusing DTDs, entity declarations and external references, as
    defusedxml's parsers do with forbid_dtd=True (and with its exceptions)."""
    from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

    def doctype(name: str, sysid: str | None, pubid: str | None, _: bool) -> None:
        raise DTDForbidden(name, sysid, pubid)

    def entity(
        name: str,
        _: bool,
        value: str | None,
        base: str | None,
        sysid: str | None,
        pubid: str | None,
        notation: str | None,
    ) -> None:
        raise EntitiesForbidden(name, value, base, sysid, pubid, notation)

    def unparsed(
        name: str, base: str | None, sysid: str | None, pubid: str | None, notation: str | None
    ) -> None:
        raise EntitiesForbidden(name, None, base, sysid, pubid, notation)

    def external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> None:
        raise ExternalReferenceForbidden(context, base, sysid, pubid)

    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = unparsed
    parser.ExternalEntityRefHandler = external
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def column_letters(col: int) -> str:
    letters = ""
    while col > 0:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_COLUMNS = {column_letters(c): c for c in range(1, MAX_COLS + 1)}


class _SheetScanner:
    """Cells of one worksheet part from expat's start-element events (and the text of
    formula cells), counted as openpyxl does: a row or cell without `r` follows the last.
    Elements count in the sheet's own namespace only (transitional or strict OOXML)."""

    def __init__(self, archive: _Archive, sheet: str):
        self.archive, self.sheet = archive, sheet
        self.result = SheetScan()
        self.budget = MAX_ELEMENTS - archive.elements  # elements left for this sheet
        self.kinds: dict[str, str] = {}  # 'namespace}c' -> 'c', ...
        self.row = self.col = 0  # where the last row and cell were
        self.formula = self.cached = self.string = False  # of the cell being read

    def scan(self, part: str) -> SheetScan:
        self.parser = _xml_parser()
        self.archive.parse(part, self.start, self.parser, self.sheet)
        self.end_cell()
        self.archive.elements = MAX_ELEMENTS - self.budget
        return self.result

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise self.refuse(f"refused: the sheets hold more than {MAX_ELEMENTS:,} XML "
                              "elements (the limit); delete unused rows and columns")
        if not self.kinds:  # the root element: <worksheet> in the sheet's namespace
            ns = name.rpartition("}")[0]
            self.kinds = {f"{ns}}}{k}": k for k in ("c", "f", "v", "row")}
        kind = self.kinds.get(name)
        if kind == "c":
            self.end_cell()
            self.cell(attrs)
        elif kind == "v":
            if self.formula:  # a t="str" result may be empty; any other must have text
                self.cached = self.cached or self.string
                self.parser.CharacterDataHandler = self.text
        elif kind == "f":
            self.formula = True
        elif kind == "row":
            self.end_cell()
            r = attrs.get("r")
            self.row = self.parse_row(r) if r else self.row + 1
            self.col = 0

    def cell(self, attrs: dict[str, str]) -> None:
        ref = attrs.get("r")
        if ref:
            letters = ref.rstrip("0123456789")
            self.col = _COLUMNS.get(letters) or self.parse_column(letters, ref)
            self.cell_row = self.parse_row(ref[len(letters):], ref)
        else:
            self.col += 1
            self.cell_row = self.row
            if self.col > MAX_COLS:
                raise self.too_far(f"{column_letters(self.col)}{self.row}")
        scan = self.result
        scan.cells += 1
        if scan.cells > MAX_CELLS:
            raise self.refuse(f"refused: the sheet has more than {MAX_CELLS:,} cells (the "
                              "limit); delete unused rows and columns")
        scan.max_row = max(scan.max_row, self.cell_row)
        scan.max_col = max(scan.max_col, self.col)
        self.string = attrs.get("t") == "str"

    def text(self, data: str) -> None:
        if not data.isspace():
            self.cached = True

    def end_cell(self) -> None:
        if self.formula:
            self.parser.CharacterDataHandler = None
            if not self.cached:
                uncached = self.result.uncached_formulas
                uncached.add((self.cell_row, self.col))
                if len(uncached) > MAX_UNCACHED_FORMULAS:
                    raise self.refuse(f"refused: more than {MAX_UNCACHED_FORMULAS:,} formulas "
                                      f"have no saved result (the limit); {RESAVE}")
        self.formula = self.cached = False

    def parse_row(self, digits: str, ref: str | None = None) -> int:
        if not digits.isascii() or not digits.isdigit() or len(digits) > 9:
            raise self.refuse(
                f"the file is damaged (bad cell reference {ref or digits!r}); {RESAVE}"
            )
        row = int(digits)
        if row > MAX_ROWS:
            raise self.too_far(ref or f"row {row}")
        return row

    def parse_column(self, letters: str, ref: str) -> int:
        if not letters.isascii() or not letters.isalpha() or len(letters) > 3:
            raise self.refuse(f"the file is damaged (bad cell reference {ref!r}); {RESAVE}")
        raise self.too_far(ref)

    def too_far(self, ref: str) -> InputError:
        return self.refuse(
            f"refused: cell {ref} is beyond the limits of {MAX_ROWS:,} rows and "
            f"{MAX_COLS:,} columns (column {column_letters(MAX_COLS)}); delete "
            "the unused rows and columns after the data and save again"
        )

    def refuse(self, message: str) -> InputError:
        return _refuse(message, self.sheet)
