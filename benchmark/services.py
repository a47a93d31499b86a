"""Writes to the benchmark: suites, versions and their items."""

import json
from collections.abc import Iterable, Iterator
from typing import IO

from django.db import transaction
from django.utils.translation import gettext as _

from benchmark.formats import (
    ItemData,
    ItemValidator,
    Problem,
    detect_format,
    parse_csv,
    parse_jsonl,
    version_content_hash,
)
from benchmark.models import BenchmarkSuite, BenchmarkVersion, Dimension, Item, Scenario, ScenarioSuite, ScenarioVersion
from config.errors import ServiceError

IMPORT_BATCH = 2000
MAX_REPORTED_PROBLEMS = 1000


class ImportFailed(ServiceError):
    code = "import_failed"

    def __init__(self, problems: list[Problem], *, truncated: bool = False):
        count = len(problems)
        message = _("The file was not imported: %(count)d problem(s) found; nothing was written.") % {"count": count}
        if truncated:
            message += " " + _("Only the first %(max)d are listed.") % {"max": MAX_REPORTED_PROBLEMS}
        super().__init__(message)
        self.problems = problems
        self.details = [problem.as_dict() for problem in problems]


def _next_label(suite: BenchmarkSuite) -> str:
    existing = set(suite.versions.values_list("label", flat=True))
    number = len(existing) + 1
    while f"v{number}" in existing:
        number += 1
    return f"v{number}"


def _items_of(version: BenchmarkVersion, records: Iterator, dimension_ids: dict[str, int]):
    """Insert valid records in batches; collect every problem. Returns (problems, item hashes)."""
    problems: list[Problem] = []
    hashes: list[str] = []
    batch: list[Item] = []
    position = 0
    for record in records:
        if record.problems:
            if len(problems) < MAX_REPORTED_PROBLEMS:
                problems.extend(record.problems)
            else:
                problems.append(Problem(0, "…"))
                break
            batch.clear()  # the import will roll back: stop spending time on inserts
            continue
        if problems:
            continue
        data: ItemData = record.item
        item_hash = data.content_hash()
        hashes.append(item_hash)
        batch.append(
            Item(
                version=version,
                external_id=data.external_id,
                position=position,
                dimension_id=dimension_ids[data.dimension],
                language=data.language,
                question=data.question,
                options=list(data.options),
                answer=data.answer,
                explanation=data.explanation,
                tags=list(data.tags),
                content_hash=item_hash,
            )
        )
        position += 1
        if len(batch) >= IMPORT_BATCH:
            Item.objects.bulk_create(batch)
            batch.clear()
    if batch and not problems:
        Item.objects.bulk_create(batch)
    return problems, hashes


def _checked_names(suite_model, suite_name: str | None, label: str | None) -> tuple[str, str | None]:
    """The suite name and version label, stripped, or a clear error (not a database error) when unusable."""
    suite_name, label = (suite_name or "").strip(), (label or "").strip() or None
    if not suite_name:
        raise ServiceError(_("A suite name is required."))
    version_model = suite_model.versions.rel.related_model
    limits = (
        (_("suite name"), suite_name, suite_model._meta.get_field("name").max_length),
        (_("version label"), label or "", version_model._meta.get_field("label").max_length),
    )
    for what, value, limit in limits:
        if len(value) > limit:
            raise ServiceError(
                _("The %(what)s is %(length)d characters long; at most %(limit)d are allowed.")
                % {"what": what, "length": len(value), "limit": limit}
            )
    return suite_name, label


@transaction.atomic
def benchmark_version_import(
    *,
    suite_name: str,
    lines: Iterable[bytes | str],
    filename: str = "",
    label: str | None = None,
    file_format: str | None = None,
    by=None,
    suite_description: str = "",
    notes: str = "",
) -> BenchmarkVersion:
    """Import a whole file as a new published version, or nothing at all.

    ``lines`` is consumed once (a file object iterates its lines), so memory stays bounded by the
    insert batch; every problem is collected with its line number before the transaction rolls back.
    """
    suite_name, label = _checked_names(BenchmarkSuite, suite_name, label)
    suite, _created = BenchmarkSuite.objects.get_or_create(
        name=suite_name, defaults={"owner": by, "description": suite_description}
    )
    label = label or _next_label(suite)
    if suite.versions.filter(label=label).exists():
        raise ServiceError(
            _("Suite %(suite)s already has a version %(label)s; published versions never change, choose a new label.")
            % {"suite": suite.name, "label": label},
            code="version_exists",
        )
    lines = iter(lines)
    if file_format is None:
        first = next(lines, b"")
        file_format = detect_format(filename, first if isinstance(first, bytes) else first.encode())
        lines = _chain_first(first, lines)
    if file_format not in ("jsonl", "csv"):
        raise ServiceError(_("Unknown file format %(format)s; use jsonl or csv.") % {"format": file_format})

    version = BenchmarkVersion.objects.create(
        suite=suite, label=label, source_filename=filename[:255], created_by=by, notes=notes
    )
    dimension_ids = dict(Dimension.objects.values_list("code", "id"))
    validator = ItemValidator(dimension_ids)
    parser = parse_jsonl if file_format == "jsonl" else parse_csv
    problems, hashes = _items_of(version, parser(lines, validator), dimension_ids)
    if not problems and not hashes:
        problems = [Problem(0, _("the file holds no items"))]
    if problems:
        truncated = bool(problems) and problems[-1].message == "…"
        raise ImportFailed([problem for problem in problems if problem.message != "…"], truncated=truncated)

    version.item_count = len(hashes)
    version.content_hash = version_content_hash(hashes)
    version.save(update_fields=["item_count", "content_hash"])
    version.transition(to=BenchmarkVersion.Status.PUBLISHED)
    from governance.events import record_event

    record_event(
        actor=by,
        verb="benchmark.version_imported",
        target=version,
        data={"suite": suite.name, "label": label, "items": version.item_count, "content_hash": version.content_hash},
    )
    return version


def _chain_first(first, rest: Iterator) -> Iterator:
    if first:
        yield first
    yield from rest


def item_data(item: Item, dimension_code: str) -> ItemData:
    return ItemData(
        external_id=item.external_id,
        dimension=dimension_code,
        language=item.language,
        question=item.question,
        options=tuple(item.options),
        answer=item.answer,
        explanation=item.explanation,
        tags=tuple(item.tags),
    )


def benchmark_version_jsonl_lines(*, version: BenchmarkVersion) -> Iterator[str]:
    """The version as JSON Lines, one item at a time; re-importing them reproduces the same content hash."""
    codes = dict(Dimension.objects.values_list("id", "code"))
    for item in version.items.order_by("position").iterator(chunk_size=2000):
        record = item_data(item, codes[item.dimension_id]).to_jsonl_record()
        yield json.dumps(record, ensure_ascii=False) + "\n"


def benchmark_version_export(*, version: BenchmarkVersion, out: IO[str]) -> int:
    count = 0
    for line in benchmark_version_jsonl_lines(version=version):
        out.write(line)
        count += 1
    return count


@transaction.atomic
def benchmark_version_retire(*, version: BenchmarkVersion, by=None) -> BenchmarkVersion:
    version = BenchmarkVersion.objects.select_for_update().get(pk=version.pk)
    version.transition(to=BenchmarkVersion.Status.RETIRED)
    from governance.events import record_event

    record_event(actor=by, verb="benchmark.version_retired", target=version, data={"label": version.label})
    return version


# --- Scenario suites (safety simulation) -----------------------------------------------------------


@transaction.atomic
def scenario_version_import(
    *,
    suite_name: str,
    lines: Iterable[bytes | str],
    filename: str = "",
    label: str | None = None,
    by=None,
    notes: str = "",
) -> ScenarioVersion:
    """Import a scenario file as a new published version, or nothing at all (every problem reported)."""
    from benchmark.scenario_formats import ScenarioValidator, parse_scenarios

    suite_name, label = _checked_names(ScenarioSuite, suite_name, label)
    suite, _created = ScenarioSuite.objects.get_or_create(name=suite_name, defaults={"owner": by})
    label = label or _next_label(suite)
    if suite.versions.filter(label=label).exists():
        raise ServiceError(
            _("Suite %(suite)s already has a version %(label)s; published versions never change, choose a new label.")
            % {"suite": suite.name, "label": label},
            code="version_exists",
        )
    version = ScenarioVersion.objects.create(
        suite=suite, label=label, source_filename=filename[:255], created_by=by, notes=notes
    )
    dimension_ids = dict(Dimension.objects.values_list("code", "id"))
    problems: list[Problem] = []
    hashes: list[str] = []
    rows: list[Scenario] = []
    for record in parse_scenarios(lines, ScenarioValidator(dimension_ids)):
        if record.problems:
            problems.extend(record.problems)
            continue
        data = record.item
        item_hash = data.content_hash()
        hashes.append(item_hash)
        rows.append(
            Scenario(
                version=version,
                external_id=data.external_id,
                position=len(rows),
                dimension_id=dimension_ids[data.dimension],
                language=data.language,
                persona=data.persona,
                system_prompt=data.system_prompt,
                turns=list(data.turns),
                expected=data.expected,
                must_include=list(data.must_include),
                must_not_include=list(data.must_not_include),
                rubric=data.rubric,
                tags=list(data.tags),
                content_hash=item_hash,
            )
        )
    if not problems and not rows:
        problems = [Problem(0, _("the file holds no scenarios"))]
    if problems:
        raise ImportFailed(problems[:MAX_REPORTED_PROBLEMS], truncated=len(problems) > MAX_REPORTED_PROBLEMS)
    Scenario.objects.bulk_create(rows, batch_size=IMPORT_BATCH)
    version.scenario_count = len(rows)
    version.content_hash = version_content_hash(hashes)
    version.save(update_fields=["scenario_count", "content_hash"])
    version.transition(to=ScenarioVersion.Status.PUBLISHED)
    from governance.events import record_event

    record_event(
        actor=by,
        verb="benchmark.scenarios_imported",
        target=version,
        data={"suite": suite.name, "label": label, "scenarios": len(rows), "content_hash": version.content_hash},
    )
    return version


def scenario_version_jsonl_lines(*, version: ScenarioVersion) -> Iterator[str]:
    codes = dict(Dimension.objects.values_list("id", "code"))
    for scenario in version.scenarios.order_by("position").iterator(chunk_size=2000):
        record = {
            "id": scenario.external_id,
            "dimension": codes[scenario.dimension_id],
            "language": scenario.language,
            "persona": scenario.persona,
            "system": scenario.system_prompt,
            "turns": scenario.turns,
            "expected": scenario.expected,
            "must_include": scenario.must_include,
            "must_not_include": scenario.must_not_include,
            "rubric": scenario.rubric,
            "tags": scenario.tags,
        }
        yield json.dumps(record, ensure_ascii=False) + "\n"
