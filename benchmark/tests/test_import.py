"""Importing benchmark files: all or nothing, every problem reported with its line number."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from benchmark import services
from benchmark.models import BenchmarkSuite, BenchmarkVersion, Item
from benchmark.tests.factories import item_record, jsonl_lines, make_version
from conftest import database_url_for_children

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_it_imports_a_jsonl_file_as_a_published_version_with_a_content_hash():
    version = make_version(suite="ethics-core", label="2026.1", count=60)
    assert version.status == BenchmarkVersion.Status.PUBLISHED
    assert version.item_count == 60 == version.items.count()
    assert len(version.content_hash) == 64
    item = version.items.get(external_id="item-00000")
    assert item.answer == "AC" and item.options[0] == "Option A for item 0"


def test_the_content_hash_ignores_file_order_but_not_content():
    records = [item_record(index) for index in range(30)]
    first = make_version(suite="a", records=records)
    second = make_version(suite="b", records=list(reversed(records)))
    assert first.content_hash == second.content_hash
    changed = [dict(record) for record in records]
    changed[7]["explanation"] = "A different explanation"
    assert make_version(suite="c", records=changed).content_hash != first.content_hash


def test_it_accepts_option_lists_answer_lists_and_a_bom():
    record = item_record(1)
    record["options"] = list(record["options"].values())
    record["answer"] = ["B"]
    lines = jsonl_lines([record])
    lines[0] = b"\xef\xbb\xbf" + lines[0]
    version = services.benchmark_version_import(suite_name="bom", lines=lines, filename="x.jsonl")
    assert version.items.get().answer == "B"


def test_a_file_with_five_planted_errors_reports_all_five_and_writes_nothing():
    records = [item_record(index) for index in range(40)]
    lines = jsonl_lines(records)
    lines[3] = b'{"id": "broken", "dimension": \n'  # 1: bad JSON on line 4
    records[10]["dimension"] = "safety.medicaton"  # 2: unknown dimension, line 11
    records[17]["answer"] = "E"  # 3: answer letter not among the options, line 18
    records[25]["id"] = records[24]["id"]  # 4: duplicate id, line 26
    records[33]["options"]["C"] = "  "  # 5: empty option, line 34
    for index in (10, 17, 25, 33):
        lines[index] = jsonl_lines([records[index]])[0]
    with pytest.raises(services.ImportFailed) as failure:
        services.benchmark_version_import(suite_name="planted", lines=lines, filename="planted.jsonl")
    problems = failure.value.problems
    assert [problem.line for problem in problems] == [4, 11, 18, 26, 34]
    messages = [problem.message for problem in problems]
    assert messages[0].startswith("bad JSON")
    assert messages[1] == "unknown dimension 'safety.medicaton'"
    assert messages[2] == "answer letter E is not among the options (A–D)"
    assert messages[3] == "duplicate id 'item-00024' (first on line 25)"
    assert messages[4] == "option C is empty"
    assert not BenchmarkSuite.objects.filter(name="planted").exists()
    assert Item.objects.count() == 0


def test_missing_fields_and_bad_shapes_are_named():
    lines = [
        b'{"id": "x1", "dimension": "safety.medication", "language": "zh", "options": ["a", "b"], "answer": "A"}\n',
        b'{"id": "x2", "dimension": "safety.medication", "language": "fr", "question": "q", "options": ["a"], '
        b'"answer": "A"}\n',
        b"[1, 2]\n",
        b"\xff\xfe not utf-8\n",
    ]
    with pytest.raises(services.ImportFailed) as failure:
        services.benchmark_version_import(suite_name="bad", lines=lines, filename="bad.jsonl")
    text = [str(problem) for problem in failure.value.problems]
    assert "line 1: missing field 'question'" in text
    assert "line 2: language must be 'zh' or 'en', got 'fr'" in text
    assert "line 2: an item needs 2 to 10 options, got 1" in text
    assert "line 3: each line must be a JSON object" in text
    assert any(line.startswith("line 4: not valid UTF-8") for line in text)


def test_an_empty_file_is_refused():
    with pytest.raises(services.ImportFailed) as failure:
        services.benchmark_version_import(suite_name="empty", lines=[b"\n"], filename="e.jsonl")
    assert failure.value.problems[0].message == "the file holds no items"


def test_versions_are_never_overwritten():
    make_version(suite="s", label="v1", count=3)
    with pytest.raises(services.ServiceError, match="already has a version v1"):
        make_version(suite="s", label="v1", count=3)
    assert make_version(suite="s", count=3).label == "v2"


def _csv_bytes(rows: list[list[str]], bom: bool = True) -> list[bytes]:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    data = buffer.getvalue().encode()
    return (b"\xef\xbb\xbf" + data if bom else data).splitlines(keepends=True)


def test_it_imports_csv_with_multiline_cells_and_reports_csv_line_numbers():
    header = ["id", "dimension", "language", "question", "A", "B", "C", "D", "E", "answer", "explanation"]
    rows = [
        header,
        ["c1", "safety.medication", "en", "A question\nover two lines", "w", "x", "y", "z", "", "B", "why"],
        ["c2", "ethics.palliative_care", "zh", "问题二", "甲", "乙", "丙", "丁", "戊", "AC", ""],
        ["c3", "safety.nope", "en", "Q3", "a", "b", "", "", "", "A", ""],
    ]
    with pytest.raises(services.ImportFailed) as failure:
        services.benchmark_version_import(suite_name="csv", lines=_csv_bytes(rows), filename="x.csv")
    assert [str(problem) for problem in failure.value.problems] == ["line 5: unknown dimension 'safety.nope'"]
    version = services.benchmark_version_import(suite_name="csv", lines=_csv_bytes(rows[:3]), filename="x.csv")
    first, second = version.items.order_by("position")
    assert first.options == ["w", "x", "y", "z"] and first.question == "A question\nover two lines"
    assert second.answer == "AC" and len(second.options) == 5


def test_csv_and_jsonl_of_the_same_items_have_the_same_hash():
    records = [item_record(index) for index in range(12)]
    rows = [["id", "dimension", "language", "question", "A", "B", "C", "D", "answer", "explanation", "tags"]]
    for record in records:
        answer = record["answer"] if isinstance(record["answer"], str) else "".join(record["answer"])
        rows.append(
            [
                record["id"],
                record["dimension"],
                record["language"],
                record["question"],
                *record["options"].values(),
                answer,
                record["explanation"],
                ";".join(record["tags"]),
            ]
        )
    from_csv = services.benchmark_version_import(suite_name="c", lines=_csv_bytes(rows, bom=False), filename="a.csv")
    from_jsonl = make_version(suite="j", records=records)
    assert from_csv.content_hash == from_jsonl.content_hash


def test_export_then_reimport_gives_the_same_content_hash(tmp_path):
    version = make_version(suite="roundtrip", count=25)
    out = tmp_path / "export.jsonl"
    call_command("export_benchmark", "--suite", "roundtrip", "--version", version.label, "-o", str(out))
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 25 and records[0]["options"]["A"]
    with out.open("rb") as handle:
        again = services.benchmark_version_import(suite_name="roundtrip-2", lines=handle, filename=out.name)
    assert again.content_hash == version.content_hash


def test_published_items_are_immutable_in_the_database():
    version = make_version(count=2)
    item = version.items.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.filter(pk=item.pk).update(question="tampered")
    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.filter(pk=item.pk).delete()
    assert connection.vendor == "postgresql"


def test_the_import_command_prints_json_and_fails_in_one_line(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"".join(jsonl_lines([item_record(index) for index in range(5)])))
    out = io.StringIO()
    call_command("import_benchmark", str(good), "--suite", "cli", "--version", "r1", "--json", stdout=out)
    document = json.loads(out.getvalue())
    assert document == {
        "suite": "cli",
        "version": "r1",
        "items": 5,
        "content_hash": BenchmarkVersion.objects.get(suite__name="cli", label="r1").content_hash,
    }
    with pytest.raises(CommandError, match="The version label is 65 characters long; at most 64 are allowed"):
        call_command("import_benchmark", str(good), "--suite", "cli", "--version", "v" * 65, stdout=io.StringIO())
    with pytest.raises(CommandError, match="The suite name is 121 characters long; at most 120 are allowed"):
        call_command("import_benchmark", str(good), "--suite", "s" * 121, stdout=io.StringIO())
    assert BenchmarkVersion.objects.filter(suite__name="cli").count() == 1


def test_both_import_commands_record_notes_on_the_version(tmp_path):
    from benchmark.models import ScenarioVersion

    items = tmp_path / "items.jsonl"
    items.write_bytes(b"".join(jsonl_lines([item_record(index) for index in range(3)])))
    call_command(
        "import_benchmark", str(items), "--suite", "noted", "--notes", "From the 2026 exam.", stdout=io.StringIO()
    )
    assert BenchmarkVersion.objects.get(suite__name="noted").notes == "From the 2026 exam."
    scenarios = ROOT / "benchmark" / "data" / "sample_scenarios.jsonl"
    out = io.StringIO()
    call_command(
        "import_scenarios",
        str(scenarios),
        "--suite",
        "sim",
        "--version",
        "s1",
        "--notes",
        "Written by the team.",
        "--json",
        stdout=out,
    )
    assert json.loads(out.getvalue())["scenarios"] == 64
    assert ScenarioVersion.objects.get(suite__name="sim", label="s1").notes == "Written by the team."
    call_command("import_scenarios", str(scenarios), "--suite", "sim", stdout=io.StringIO())
    assert ScenarioVersion.objects.get(suite__name="sim", label="v2").notes == ""


def test_the_import_command_from_a_shell(tmp_path, transactional_db):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\nnot json\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "manage.py", "import_benchmark", str(bad), "--suite", "shell", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": database_url_for_children()},
    )
    assert result.returncode != 0
    document = json.loads(result.stdout)
    assert document["error"].startswith("The file was not imported: ")
    assert {problem["line"] for problem in document["problems"]} == {1, 2}
    assert result.stderr.strip().splitlines()[-1].startswith("CommandError: The file was not imported")
    missing = subprocess.run(
        [sys.executable, "manage.py", "import_benchmark", "/nope.jsonl", "--suite", "shell"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode != 0 and missing.stderr.strip() == "CommandError: no such file: /nope.jsonl"
