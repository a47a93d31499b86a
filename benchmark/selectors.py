"""Reads of benchmark content. Benchmark items are visible to roles holding the model's view permission
(auditors, IRB members, compliance administrators); requesters and vendors never see test items."""

from django.db.models import Count, QuerySet

from benchmark.models import BenchmarkSuite, BenchmarkVersion, Dimension, Item, ScenarioSuite, ScenarioVersion


def can_view_benchmark(user) -> bool:
    return user.is_authenticated and user.has_perm("benchmark.view_item")


def dimension_list() -> QuerySet[Dimension]:
    return Dimension.objects.all()


def suite_list(*, user) -> QuerySet[BenchmarkSuite]:
    if not user.has_perm("benchmark.view_benchmarksuite"):
        return BenchmarkSuite.objects.none()
    return BenchmarkSuite.objects.annotate(version_count=Count("versions")).order_by("name")


def version_list(*, user) -> QuerySet[BenchmarkVersion]:
    if not user.has_perm("benchmark.view_benchmarkversion"):
        return BenchmarkVersion.objects.none()
    return BenchmarkVersion.objects.select_related("suite", "created_by")


def item_list(*, user) -> QuerySet[Item]:
    if not can_view_benchmark(user):
        return Item.objects.none()
    return Item.objects.select_related("dimension", "version__suite")


def version_breakdown(*, version: BenchmarkVersion) -> list[dict]:
    """Item counts per dimension and language, every dimension listed (zero when absent)."""
    counts = {
        (row["dimension_id"], row["language"]): row["n"]
        for row in version.items.values("dimension_id", "language").annotate(n=Count("id"))
    }
    rows = []
    for dimension in Dimension.objects.all():
        zh = counts.get((dimension.pk, "zh"), 0)
        en = counts.get((dimension.pk, "en"), 0)
        rows.append({"dimension": dimension, "zh": zh, "en": en, "total": zh + en})
    return rows


def scenario_suite_list(*, user) -> QuerySet[ScenarioSuite]:
    if not user.has_perm("benchmark.view_scenariosuite"):
        return ScenarioSuite.objects.none()
    return ScenarioSuite.objects.annotate(version_count=Count("versions")).order_by("name")


def scenario_version_list(*, user) -> QuerySet[ScenarioVersion]:
    if not user.has_perm("benchmark.view_scenarioversion"):
        return ScenarioVersion.objects.none()
    return ScenarioVersion.objects.select_related("suite")
