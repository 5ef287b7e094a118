"""Deterministic client-list files (CSV, XLSX with shared strings, vCard) for benchmarks."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterable, Iterator
from xml.sax.saxutils import escape

FIRST = ["Ava", "Liam", "Zoë", "José", "Fatima", "Chen", "Noah", "Aisha", "Mateo", "Nora"]
LAST = ["García", "Nguyen", "Müller", "O'Brien", "Haddad", "Kowalski", "Rossi", "Patel"]
HEADERS = [
    "Client ID",
    "First Name",
    "Last Name",
    "Preferred Name",
    "Email",
    "Mobile Phone",
    "Date of Birth",
    "Primary Insurance",
    "Status",
]


def client_records(n: int, *, seed: int = 7, domain: str = "example.org") -> Iterator[list[str]]:
    """n rows of HEADERS, unique e-mails, US phones and US-style birth dates."""
    rng = random.Random(seed)
    for i in range(n):
        first = rng.choice(FIRST)
        last = rng.choice(LAST)
        phone = f"({_area_code(rng)}) 555-{rng.randint(0, 9999):04d}"
        dob = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1940, 2010)}"
        email = f"client.{i}@{domain}"
        yield [f"C{i}", first, last, "", email, phone, dob, "Aetna", "Active"]


def _area_code(rng: random.Random) -> int:
    """A North American area code 201-989 that can exist: N11 codes (411, 911) are refused."""
    while True:
        code = rng.randint(201, 989)
        if code % 100 != 11:
            return code


# The realistic mix: many distinct names, some non-ASCII, phones of several countries and
# shapes, non-ASCII and IDN e-mail addresses, bad rows, in-file duplicates, and addresses
# already on the provider's list (imported beforehand from existing_records()).
_SYLLABLES = [
    "an",
    "be",
    "ca",
    "do",
    "el",
    "fa",
    "gi",
    "ho",
    "ja",
    "ka",
    "lu",
    "ma",
    "ni",
    "or",
    "pe",
    "ra",
    "si",
    "to",
    "ul",
    "vi",
    "ya",
    "zé",
    "ñu",
    "ø",
    "ü",
    "ç",
]
_INTERNATIONAL = [
    "+44 20 7946 {a:04d}",  # London
    "+49 30 9018{a:04d}",  # Berlin
    "+33 1 42 68 {b:02d} {c:02d}",  # Paris
    "+61 2 9374 {a:04d}",  # Sydney
    "+52 55 5130 {a:04d}",  # Mexico City
]
BAD_SHARE = 0.05
DUPLICATE_SHARE = 0.05
EXISTING_SHARE = 0.05


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def _phone(rng: random.Random) -> str:
    kind = rng.random()
    local = f"({_area_code(rng)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
    if kind < 0.6:
        return local
    if kind < 0.7:
        return f"{local} ext. {rng.randint(1, 999)}"
    if kind < 0.8:
        return f"+1 {_area_code(rng)}.{rng.randint(200, 999)}.{rng.randint(0, 9999):04d}"
    if kind < 0.9:
        pattern = rng.choice(_INTERNATIONAL)
        return pattern.format(
            a=rng.randint(1000, 9999), b=rng.randint(10, 99), c=rng.randint(10, 99)
        )
    return ""


def _email(rng: random.Random, i: int, first: str, last: str, domain: str) -> str:
    kind = rng.random()
    if kind < 0.1:
        return f"{first.lower()}.{last.lower()}.{i}@{domain}"  # often non-ASCII local part
    if kind < 0.15:
        return f"c{i}@bücher-{domain.replace('.', '-')}.de"  # an IDN domain
    if kind < 0.2:
        return f"Client.{i}@{domain.upper()}"  # upper case, folded on import
    return f"client.{i}@{domain}"


def existing_records(n: int, *, seed: int = 7, domain: str = "example.org") -> list[list[str]]:
    """The rows already on the list before realistic_records(n) is imported (EXISTING_SHARE)."""
    rng = random.Random(seed + 1)
    count = int(n * EXISTING_SHARE)
    return [
        [
            f"E{i}",
            _name(rng),
            _name(rng),
            "",
            f"existing.{i}@{domain}",
            _phone(rng),
            "",
            "",
            "Active",
        ]
        for i in range(count)
    ]


def realistic_records(n: int, *, seed: int = 7, domain: str = "example.org") -> Iterator[list[str]]:
    """n rows of HEADERS in the realistic mix; the first existing_records(n) addresses recur."""
    rng = random.Random(seed)
    existing = [r[4] for r in existing_records(n, seed=seed, domain=domain)]
    emails: list[str] = []
    for i in range(n):
        first, last = _name(rng), _name(rng)
        dob = f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(1940, 2010)}"
        draw = rng.random()
        if draw < BAD_SHARE:
            # a bad row: no usable e-mail address
            email = rng.choice(["", f"client.{i} at {domain}", f"client.{i}@"])
        elif draw < BAD_SHARE + DUPLICATE_SHARE and emails:
            email = rng.choice(emails)  # the same person twice in one file
        elif draw < BAD_SHARE + DUPLICATE_SHARE + EXISTING_SHARE and existing:
            email = existing.pop()  # already on the provider's list
        else:
            email = _email(rng, i, first, last, domain)
            emails.append(email)
        insurance = rng.choice(["Aetna", "Blue Cross Blue Shield", "Cigna", "", "UnitedHealthcare"])
        yield [f"C{i}", first, last, "", email, _phone(rng), dob, insurance, "Active"]


def _csv_text(records: Iterator[list[str]] | list[list[str]]) -> bytes:
    lines = [",".join(HEADERS)]
    for record in records:
        lines.append(",".join(f'"{v}"' if "," in v else v for v in record))
    return ("\r\n".join(lines) + "\r\n").encode()


def make_realistic_csv(n: int, *, seed: int = 7, domain: str = "example.org") -> bytes:
    """A UTF-8 CSV of n rows in the realistic mix (see realistic_records)."""
    return _csv_text(realistic_records(n, seed=seed, domain=domain))


def make_existing_csv(n: int, *, seed: int = 7, domain: str = "example.org") -> bytes:
    """The CSV to import first so that make_realistic_csv(n) finds addresses on the list."""
    return _csv_text(existing_records(n, seed=seed, domain=domain))


def make_csv(n: int, *, seed: int = 7, domain: str = "example.org") -> bytes:
    """A UTF-8 CSV with a header line and n client rows, CRLF line ends, as Excel writes."""
    lines = [",".join(HEADERS)]
    for record in client_records(n, seed=seed, domain=domain):
        lines.append(",".join(f'"{v}"' if "," in v else v for v in record))
    return ("\r\n".join(lines) + "\r\n").encode()


def _column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    "{sheets}"
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{i}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_RNS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

Cell = str | int | float | None
Sheet = list[list[Cell]]


def xlsx_from_sheets(sheets: dict[str, Sheet], *, formulas: dict[str, str] | None = None) -> bytes:
    """An .xlsx laid out as Excel writes it: strings in sharedStrings.xml, numbers inline.

    formulas maps a cell reference on the first sheet ("F2") to formula text; the cell keeps
    its value as the cached result, the way Excel saves a computed formula.
    """
    strings: dict[str, int] = {}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = "".join(
            f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, name in enumerate(sheets, 1)
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f"<workbook {_NS} {_RNS}><sheets>{entries}</sheets></workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        shared = len(sheets) + 1
        rels += f'<Relationship Id="rId{shared}" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
            f'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>',
        )
        for i, rows in enumerate(sheets.values(), 1):
            with archive.open(f"xl/worksheets/sheet{i}.xml", "w") as member:
                member.write(
                    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS}><sheetData>'.encode()
                )
                for r, row in enumerate(rows, 1):
                    member.write(_row_xml(r, row, strings, formulas if i == 1 else None).encode())
                member.write(b"</sheetData></worksheet>")
        sst = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in strings)
        archive.writestr(
            "xl/sharedStrings.xml",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst {_NS} count="{len(strings)}" '
            f'uniqueCount="{len(strings)}">{sst}</sst>',
        )
        archive.writestr("_rels/.rels", _ROOT_RELS)
        types = "".join(_SHEET_TYPE.format(i=i) for i in range(1, len(sheets) + 1))
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES.format(sheets=types))
    return buffer.getvalue()


def _row_xml(
    r: int, row: list[Cell], strings: dict[str, int], formulas: dict[str, str] | None
) -> str:
    cells = []
    for c, value in enumerate(row):
        if value is None or value == "":
            continue
        ref = f"{_column(c)}{r}"
        formula = f"<f>{escape(formulas[ref])}</f>" if formulas and ref in formulas else ""
        if isinstance(value, str):
            index = strings.setdefault(value, len(strings))
            cells.append(f'<c r="{ref}" t="s">{formula}<v>{index}</v></c>')
        else:
            cells.append(f'<c r="{ref}">{formula}<v>{value}</v></c>')
    return f'<row r="{r}">{"".join(cells)}</row>'


def make_xlsx(n: int, *, seed: int = 7, domain: str = "example.org") -> bytes:
    """An .xlsx with one sheet: HEADERS and n client rows; phones as numbers, like TheraNest."""
    rows: Sheet = [list(HEADERS)]
    for record in client_records(n, seed=seed, domain=domain):
        digits = "".join(ch for ch in record[5] if ch.isdigit())
        rows.append([*record[:5], int(digits), *record[6:]])
    return xlsx_from_sheets({"Clients": rows})


def make_vcf(n: int, *, seed: int = 7, domain: str = "example.org") -> bytes:
    """An iPhone-style vCard 3.0 file with n cards and one group card."""
    return make_vcf_from(client_records(n, seed=seed, domain=domain))


def make_vcf_from(records: Iterable[list[str]]) -> bytes:
    """An iPhone-style vCard 3.0 file with a card per record and one group card."""
    out = io.StringIO()
    for _, first, last, _, email, phone, dob, _, _ in records:
        month, day, year = dob.split("/")
        out.write(
            "BEGIN:VCARD\r\nVERSION:3.0\r\n"
            f"N:{last};{first};;;\r\nFN:{first} {last}\r\n"
            f"EMAIL;type=INTERNET;type=HOME;type=pref:{email}\r\n"
            f"item1.TEL;type=CELL;type=VOICE;type=pref:{phone}\r\n"
            "item1.X-ABLabel:mobile\r\n"
            "TEL;type=HOME;type=VOICE:+1 212 555 0100\r\n"
            f"BDAY;value=date:{year}-{month}-{day}\r\n"
            "END:VCARD\r\n"
        )
    out.write("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Clients;;;;\r\nFN:Clients\r\n")
    out.write("X-ADDRESSBOOKSERVER-KIND:group\r\nEND:VCARD\r\n")
    return out.getvalue().encode()
