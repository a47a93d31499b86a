import json

import factory

from benchmark import services
from benchmark.formats import LETTERS
from benchmark.models import BenchmarkSuite
from benchmark.taxonomy import DEFAULT_DIMENSIONS

DIMENSION_CODES = [row[0] for row in DEFAULT_DIMENSIONS]


class BenchmarkSuiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BenchmarkSuite
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"suite-{n}")


def item_record(
    index: int,
    *,
    dimension: str | None = None,
    language: str | None = None,
    options: int = 4,
    answer: str | None = None,
) -> dict:
    """A valid, deterministic JSONL record; ``index`` decides dimension, language and answer."""
    dimension = dimension or DIMENSION_CODES[index % len(DIMENSION_CODES)]
    language = language or ("zh" if index % 2 else "en")
    letters = LETTERS[:options]
    if answer is None:
        answer = letters[index % options] if index % 5 else letters[0] + letters[2]
    question = (
        f"第{index}题：在{dimension}情境下，下列哪项做法最恰当？"
        if language == "zh"
        else f"Question {index}: in a {dimension} situation, which action is most appropriate?"
    )
    return {
        "id": f"item-{index:05d}",
        "dimension": dimension,
        "language": language,
        "question": question,
        "options": {letter: f"Option {letter} for item {index}" for letter in letters},
        "answer": answer if len(answer) == 1 else list(answer),
        "explanation": f"Explanation {index}",
        "tags": ["generated"],
    }


def jsonl_lines(records) -> list[bytes]:
    return [(json.dumps(record, ensure_ascii=False) + "\n").encode() for record in records]


def make_version(*, suite: str = "test-suite", label: str | None = None, count: int = 40, records=None):
    records = records if records is not None else [item_record(index) for index in range(count)]
    return services.benchmark_version_import(
        suite_name=suite, label=label, lines=jsonl_lines(records), filename="t.jsonl"
    )
