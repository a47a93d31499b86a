"""The benchmark file formats (JSON Lines and CSV): parsing, validation, canonical form and hashing.

Pure code: no database and no I/O beyond the iterables it is given, so the importers, the
exporter and the tests share one definition of what a valid item is.
"""

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

LETTERS = "ABCDEFGHIJ"
MIN_OPTIONS, MAX_OPTIONS = 2, len(LETTERS)
LANGUAGES = ("zh", "en")
MAX_ID_LENGTH = 128


@dataclass(frozen=True)
class ItemData:
    external_id: str
    dimension: str
    language: str
    question: str
    options: tuple[str, ...]
    answer: str  # sorted letters, e.g. "B" or "AC"
    explanation: str = ""
    tags: tuple[str, ...] = ()

    def canonical(self) -> dict:
        return {
            "id": self.external_id,
            "dimension": self.dimension,
            "language": self.language,
            "question": self.question,
            "options": list(self.options),
            "answer": self.answer,
            "explanation": self.explanation,
            "tags": list(self.tags),
        }

    def content_hash(self) -> str:
        encoded = json.dumps(self.canonical(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()

    def to_jsonl_record(self) -> dict:
        """The public export shape: options keyed by letter, answer a letter or a list of letters."""
        return {
            "id": self.external_id,
            "dimension": self.dimension,
            "language": self.language,
            "question": self.question,
            "options": dict(zip(LETTERS, self.options, strict=False)),
            "answer": self.answer if len(self.answer) == 1 else list(self.answer),
            "explanation": self.explanation,
            "tags": list(self.tags),
        }


def version_content_hash(item_hashes: Iterable[str]) -> str:
    """SHA-256 over the sorted item hashes: independent of file order, changed by any edit to any item."""
    digest = hashlib.sha256()
    for item_hash in sorted(item_hashes):
        digest.update(item_hash.encode("ascii"))
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    item_id: str | None = None

    def __str__(self) -> str:
        prefix = f"line {self.line}" if self.line else "file"
        return f"{prefix}: {self.message}"

    def as_dict(self) -> dict:
        return {"line": self.line, "id": self.item_id, "message": self.message}


@dataclass
class ParsedRecord:
    line: int
    item: ItemData | None
    problems: list[Problem] = field(default_factory=list)


class RecordValidator:
    """What every imported record has — a unique id, a known dimension, a language — checked line by line;
    remembers ids to report duplicates with the line of their first use."""

    def __init__(self, dimension_codes: Iterable[str]):
        self.dimension_codes = frozenset(dimension_codes)
        self.seen_ids: dict[str, int] = {}

    def identity(self, raw: dict, line: int) -> tuple[str, str, str, list[str]]:
        problems: list[str] = []
        record_id = _text(raw.get("id"))
        if not record_id:
            problems.append("missing field 'id'")
        elif len(record_id) > MAX_ID_LENGTH:
            problems.append(f"id is longer than {MAX_ID_LENGTH} characters")
        elif record_id in self.seen_ids:
            problems.append(f"duplicate id '{record_id}' (first on line {self.seen_ids[record_id]})")
        else:
            self.seen_ids[record_id] = line

        dimension = _text(raw.get("dimension"))
        if not dimension:
            problems.append("missing field 'dimension'")
        elif dimension not in self.dimension_codes:
            problems.append(f"unknown dimension '{dimension}'")

        language = _text(raw.get("language")).lower()
        if not language:
            problems.append("missing field 'language'")
        elif language not in LANGUAGES:
            problems.append(f"language must be 'zh' or 'en', got '{language}'")
        return record_id, dimension, language, problems


class ItemValidator(RecordValidator):
    """Checks raw benchmark items (already split into fields)."""

    def validate(self, raw: dict, line: int) -> ParsedRecord:
        item_id, dimension, language, problems = self.identity(raw, line)

        question = _text(raw.get("question"))
        if not question:
            problems.append("missing field 'question'")

        options, option_problems = _options(raw.get("options"))
        problems.extend(option_problems)

        answer, answer_problems = _answer(raw.get("answer"), len(options) if options else 0)
        problems.extend(answer_problems)

        explanation = raw.get("explanation") or ""
        if not isinstance(explanation, str):
            problems.append("'explanation' must be text")
            explanation = ""
        tags, tag_problems = _tags(raw.get("tags"))
        problems.extend(tag_problems)

        if problems:
            return ParsedRecord(line, None, [Problem(line, message, item_id or None) for message in problems])
        item = ItemData(
            external_id=item_id,
            dimension=dimension,
            language=language,
            question=question,
            options=tuple(options),
            answer=answer,
            explanation=explanation.strip(),
            tags=tuple(tags),
        )
        return ParsedRecord(line, item)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value).strip()
    return value.strip() if isinstance(value, str) else ""


def _options(value) -> tuple[list[str], list[str]]:
    if value is None or value == "" or value == [] or value == {}:
        return [], ["missing field 'options'"]
    problems = []
    if isinstance(value, dict):
        keys = [str(key).strip().upper() for key in value]
        expected = list(LETTERS[: len(keys)])
        if sorted(keys) != expected:
            return [], [f"option letters must run A, B, C… without gaps, got {', '.join(map(str, value))}"]
        by_letter = dict(zip(keys, value.values(), strict=True))
        texts = [by_letter[letter] for letter in expected]
    elif isinstance(value, list):
        texts = value
    else:
        return [], ["'options' must be an object {\"A\": …} or a list"]
    if not MIN_OPTIONS <= len(texts) <= MAX_OPTIONS:
        return [], [f"an item needs {MIN_OPTIONS} to {MAX_OPTIONS} options, got {len(texts)}"]
    cleaned = []
    for letter, text in zip(LETTERS, texts, strict=False):
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            problems.append(f"option {letter} must be text")
            cleaned.append("")
            continue
        text = _text(text)
        if not text:
            problems.append(f"option {letter} is empty")
        cleaned.append(text)
    seen: dict[str, str] = {}
    for letter, text in zip(LETTERS, cleaned, strict=False):
        if text and text in seen:
            problems.append(f"options {seen[text]} and {letter} are identical")
        seen.setdefault(text, letter)
    return cleaned, problems


def _answer(value, option_count: int) -> tuple[str, list[str]]:
    if value is None or value == "" or value == []:
        return "", ["missing field 'answer'"]
    if isinstance(value, list):
        if not all(isinstance(part, str) for part in value):
            return "", ['\'answer\' must be letters, e.g. "B" or ["A", "C"]']
        letters = [part.strip().upper() for part in value]
    elif isinstance(value, str):
        letters = [char for char in value.upper() if not char.isspace() and char not in ",;、|/"]
    else:
        return "", ['\'answer\' must be letters, e.g. "B" or ["A", "C"]']
    if any(len(letter) != 1 or letter not in LETTERS for letter in letters):
        return "", [f"answer '{_show(value)}' is not made of option letters A–J"]
    if len(set(letters)) != len(letters):
        return "", [f"answer '{_show(value)}' repeats a letter"]
    if option_count:
        valid = LETTERS[:option_count]
        outside = [letter for letter in letters if letter not in valid]
        if outside:
            return "", [f"answer letter {', '.join(outside)} is not among the options ({valid[0]}–{valid[-1]})"]
    return "".join(sorted(letters)), []


def _tags(value) -> tuple[list[str], list[str]]:
    if value is None or value == "":
        return [], []
    if isinstance(value, str):
        value = [part for part in value.replace("|", ";").split(";")]
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        return [], ["'tags' must be a list of text"]
    return [tag.strip() for tag in value if tag.strip()], []


def _show(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def decoded_lines(raw_lines: Iterable[bytes | str]) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, decode problem) for each physical line; strips a UTF-8 BOM and line ends."""
    for number, raw in enumerate(raw_lines, start=1):
        if isinstance(raw, bytes):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, None, f"not valid UTF-8 (byte {exc.start + 1})"
                continue
        else:
            text = raw.lstrip("\ufeff") if number == 1 else raw
        yield number, text.rstrip("\r\n"), None


def parse_jsonl(raw_lines: Iterable[bytes | str], validator: ItemValidator) -> Iterator[ParsedRecord]:
    for number, text, problem in decoded_lines(raw_lines):
        if problem:
            yield ParsedRecord(number, None, [Problem(number, problem)])
            continue
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            yield ParsedRecord(number, None, [Problem(number, f"bad JSON: {exc.msg} at column {exc.colno}")])
            continue
        if not isinstance(raw, dict):
            yield ParsedRecord(number, None, [Problem(number, "each line must be a JSON object")])
            continue
        yield validator.validate(raw, number)


CSV_REQUIRED = ("id", "dimension", "language", "question", "answer")


def parse_csv(raw_lines: Iterable[bytes | str], validator: ItemValidator) -> Iterator[ParsedRecord]:
    decode_problems: list[Problem] = []

    def texts() -> Iterator[str]:
        for number, text, problem in decoded_lines(raw_lines):
            if problem:
                decode_problems.append(Problem(number, problem))
                yield ""
            else:
                yield text + "\n"

    reader = csv.reader(texts())
    try:
        header = next(reader)
    except StopIteration:
        yield ParsedRecord(1, None, [Problem(1, "the file is empty")])
        return
    except csv.Error as exc:
        yield ParsedRecord(1, None, [Problem(1, f"bad CSV header: {exc}")])
        return
    columns = [name.strip().lower() for name in header]
    missing = [name for name in CSV_REQUIRED if name not in columns]
    option_columns = [letter for letter in LETTERS if letter.lower() in columns]
    if missing or len(option_columns) < MIN_OPTIONS:
        need = ", ".join(missing + ([] if len(option_columns) >= MIN_OPTIONS else ["A", "B"]))
        yield ParsedRecord(1, None, [Problem(1, f"the header lacks column(s): {need}")])
        return
    yield from _drain(decode_problems)
    line = reader.line_num
    while True:
        start = line + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = reader.line_num
            yield ParsedRecord(start, None, [Problem(start, f"bad CSV: {exc}")])
            continue
        line = reader.line_num
        yield from _drain(decode_problems)
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            yield ParsedRecord(start, None, [Problem(start, f"{len(row)} fields but the header has {len(columns)}")])
            continue
        record = dict(zip(columns, row, strict=False))
        options = []
        for letter in option_columns:
            options.append(record.get(letter.lower(), ""))
        while options and not options[-1].strip():
            options.pop()  # trailing empty option columns: the item simply has fewer options
        raw = {
            "id": record.get("id"),
            "dimension": record.get("dimension"),
            "language": record.get("language"),
            "question": record.get("question"),
            "options": options,
            "answer": record.get("answer"),
            "explanation": record.get("explanation", ""),
            "tags": record.get("tags", ""),
        }
        yield validator.validate(raw, start)
    yield from _drain(decode_problems)


def _drain(problems: list[Problem]) -> Iterator[ParsedRecord]:
    while problems:
        problem = problems.pop(0)
        yield ParsedRecord(problem.line, None, [problem])


def detect_format(filename: str, first_bytes: bytes) -> str:
    name = filename.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    return "jsonl" if first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"
