"""Hostile input: property-based tests of the importers, and schemathesis against the OpenAPI schema
finding no server error."""

import json

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from benchmark.formats import ItemValidator, parse_csv, parse_jsonl
from benchmark.taxonomy import DEFAULT_DIMENSIONS
from governance.tests.conftest import build_hospital

CODES = [row[0] for row in DEFAULT_DIMENSIONS]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
record_like = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values | st.text(max_size=10),
        "dimension": st.sampled_from(CODES) | json_values,
        "language": st.sampled_from(["zh", "en", "fr", ""]) | json_values,
        "question": st.text(max_size=40) | json_values,
        "options": st.lists(st.text(max_size=10), max_size=12)
        | st.dictionaries(st.text(max_size=2), st.text(max_size=8))
        | json_values,
        "answer": st.text(alphabet="ABCDEFGHIJKabc, ", max_size=5)
        | st.lists(st.text(max_size=2), max_size=4)
        | json_values,
        "explanation": st.text(max_size=20) | json_values,
        "tags": st.lists(st.text(max_size=5), max_size=3) | json_values,
    },
)


@given(st.lists(record_like | json_values, max_size=15), st.lists(st.binary(max_size=30), max_size=3))
@examples(max_examples=300, deadline=None)
def test_the_jsonl_importer_never_crashes_and_accounts_for_every_line(records, junk):
    lines = [(json.dumps(record) + "\n").encode() for record in records] + [chunk + b"\n" for chunk in junk]
    results = list(parse_jsonl(lines, ItemValidator(CODES)))
    for result in results:
        assert (result.item is None) == bool(result.problems)
        assert all(1 <= problem.line <= len(lines) for problem in result.problems)
        if result.item is not None:
            item = result.item
            assert item.dimension in CODES and item.language in ("zh", "en")
            assert 2 <= len(item.options) <= 10 and all(option.strip() for option in item.options)
            assert item.answer and set(item.answer) <= set("ABCDEFGHIJ"[: len(item.options)])
            assert len(item.content_hash()) == 64


@given(st.lists(st.lists(st.text(max_size=12), max_size=14), max_size=10))
@examples(max_examples=200, deadline=None)
def test_the_csv_importer_never_crashes(rows):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "dimension", "language", "question", "A", "B", "C", "D", "answer"])
    writer.writerows(rows)
    lines = buffer.getvalue().encode().splitlines(keepends=True)
    for result in parse_csv(lines, ItemValidator(CODES)):
        assert (result.item is None) == bool(result.problems)


valid_items = st.builds(
    lambda index, dimension, language, options, picks: {
        "id": f"p-{index}",
        "dimension": dimension,
        "language": language,
        "question": f"Q{index}?",
        "options": [f"{text} {n}" for n, text in enumerate(options)],
        "answer": sorted({"ABCDEFGHIJ"[pick % len(options)] for pick in picks}),
    },
    st.integers(0, 10**6),
    st.sampled_from(CODES),
    st.sampled_from(["zh", "en"]),
    st.lists(st.text(min_size=1, max_size=8).filter(str.strip), min_size=2, max_size=10),
    st.lists(st.integers(0, 9), min_size=1, max_size=3),
)


@given(valid_items)
@examples(max_examples=200, deadline=None)
def test_a_valid_item_round_trips_through_export_with_the_same_hash(record):
    [parsed] = list(parse_jsonl([json.dumps(record).encode()], ItemValidator(CODES)))
    assert parsed.item is not None, parsed.problems
    exported = json.dumps(parsed.item.to_jsonl_record(), ensure_ascii=False)
    [again] = list(parse_jsonl([exported], ItemValidator(CODES)))
    assert again.item.content_hash() == parsed.item.content_hash()


@pytest.mark.django_db
def test_the_api_never_answers_with_a_server_error(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    build_hospital()
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("fuzzer", "f@hospital.test", "correct-horse-battery-staple")
    token = Token.objects.create(user=root)
    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(raw, default=str)))
    app = get_wsgi_application()
    # Like Django's test client: keep the test's database connection (and its transaction) across requests.
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    failures: list[str] = []
    statuses: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 80

    def exercise(operation):
        @given(case=operation.as_strategy())
        @examples(
            max_examples=8, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        def run(case):
            response = case.call(app=app, headers={"Authorization": f"Token {token.key}"})
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{operation.method.upper()} {case.formatted_path} → {response.status_code}")

        run()

    for operation in operations:
        exercise(operation)
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
    assert len(statuses) > 300 and any(code < 300 for code in statuses)  # it really exercised the API
    assert not failures, "\n".join(sorted(set(failures)))
