"""The benchmark web pages: who sees what, importing through the form, browsing and exporting."""

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from benchmark import services
from benchmark.models import BenchmarkSuite, BenchmarkVersion, Item, ScenarioVersion
from benchmark.tests.factories import item_record, jsonl_lines, make_version
from governance.models import Role
from governance.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "sample_scenarios.jsonl"


@pytest.fixture
def auditor():
    return UserFactory(username="auditor", roles=[Role.AUDITOR])


@pytest.fixture
def irb_member():
    return UserFactory(username="irb", roles=[Role.IRB_MEMBER])


@pytest.fixture
def requester():
    return UserFactory(username="requester", roles=[Role.REQUESTER])


@pytest.fixture
def version():
    return make_version(suite="ethics-core", label="2026.1", count=60)


@pytest.fixture
def scenario_version():
    with SCENARIOS.open("rb") as lines:
        return services.scenario_version_import(suite_name="safety-sim", label="s1", lines=lines, filename="s.jsonl")


def login(client, user):
    client.force_login(user)
    return client


def upload(name: str, lines: list[bytes]) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"".join(lines), content_type="application/octet-stream")


def post_import(client, file, **fields):
    data = {"file": file, "kind": "items", "suite": "uploaded", "label": "", "file_format": "", "notes": ""}
    data.update(fields)
    return client.post(reverse("benchmark:import"), data)


# --- Who sees what ----------------------------------------------------------------------------------


def test_every_page_renders_for_an_auditor(client, auditor, version, scenario_version):
    login(client, auditor)
    item = version.items.get(external_id="item-00000")

    response = client.get(reverse("benchmark:suite-list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "ethics-core" in page and "2026.1" in page and "safety-sim" in page
    assert f'title="{version.content_hash}"' in page  # shortened in the list, full hash on hover
    assert reverse("benchmark:import") in page

    response = client.get(reverse("benchmark:version-detail", args=[version.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert version.content_hash in page
    assert "Doctor–patient relationship" in page and "ethics.doctor_patient" in page
    assert reverse("benchmark:version-export", args=[version.pk]) in page
    assert f"{reverse('benchmark:item-list')}?version={version.pk}" in page
    assert reverse("benchmark:version-retire", args=[version.pk]) in page
    assert response.context["multiple_answer_count"] == 12  # every fifth generated item has answer AC
    breakdown = response.context["breakdown"]
    assert len(breakdown) == 20 and sum(row["total"] for row in breakdown) == 60

    response = client.get(reverse("benchmark:item-list"))
    assert response.status_code == 200 and "item-00000" in response.content.decode()

    response = client.get(reverse("benchmark:item-detail", args=[item.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert item.question in page and item.content_hash in page and "Explanation 0" in page
    assert page.count("✓ correct") == 2  # answer AC: both marked in text, not by colour only

    response = client.get(reverse("benchmark:scenario-version-detail", args=[scenario_version.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert scenario_version.content_hash in page and "sc-med-zh-01" in page

    response = client.get(reverse("benchmark:import"))
    assert response.status_code == 200
    assert 'list="suite-names"' in response.content.decode() and '<option value="ethics-core">' in (
        response.content.decode()
    )


def test_an_irb_member_sees_the_benchmark_but_may_not_import(client, irb_member, version):
    login(client, irb_member)
    response = client.get(reverse("benchmark:suite-list"))
    assert response.status_code == 200 and "ethics-core" in response.content.decode()
    assert reverse("benchmark:import") not in response.content.decode()
    assert client.get(reverse("benchmark:version-detail", args=[version.pk])).status_code == 200
    assert reverse("benchmark:version-retire", args=[version.pk]) not in (
        client.get(reverse("benchmark:version-detail", args=[version.pk])).content.decode()
    )
    assert client.get(reverse("benchmark:import")).status_code == 403
    response = post_import(client, upload("a.jsonl", jsonl_lines([item_record(1)])))
    assert response.status_code == 403
    assert not BenchmarkSuite.objects.filter(name="uploaded").exists()


def test_a_requester_sees_no_suites_and_gets_404_for_versions_and_items(client, requester, version, scenario_version):
    login(client, requester)
    item = version.items.first()
    response = client.get(reverse("benchmark:suite-list"))
    assert response.status_code == 200
    assert "ethics-core" not in response.content.decode() and "safety-sim" not in response.content.decode()
    for url in (
        reverse("benchmark:version-detail", args=[version.pk]),
        reverse("benchmark:version-export", args=[version.pk]),
        reverse("benchmark:item-detail", args=[item.pk]),
        reverse("benchmark:scenario-version-detail", args=[scenario_version.pk]),
        reverse("benchmark:scenario-version-export", args=[scenario_version.pk]),
    ):
        assert client.get(url).status_code == 404, url
    response = client.get(reverse("benchmark:item-list"))
    assert response.status_code == 200 and item.external_id not in response.content.decode()
    assert client.post(reverse("benchmark:version-retire", args=[version.pk])).status_code == 404
    assert client.get(reverse("benchmark:import")).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(client, version):
    response = client.get(reverse("benchmark:version-detail", args=[version.pk]))
    assert response.status_code == 302 and reverse("login") in response["Location"]


# --- Importing ------------------------------------------------------------------------------------


def test_uploading_a_valid_jsonl_file_creates_a_version_and_redirects(client, auditor):
    login(client, auditor)
    lines = jsonl_lines([item_record(index) for index in range(25)])
    response = post_import(client, upload("ethics.jsonl", lines), suite="uploaded", label="2026.2")
    version = BenchmarkVersion.objects.get(suite__name="uploaded", label="2026.2")
    assert response.status_code == 302
    assert response["Location"] == reverse("benchmark:version-detail", args=[version.pk])
    assert version.item_count == 25 == version.items.count()
    assert version.status == BenchmarkVersion.Status.PUBLISHED
    assert version.created_by == auditor and version.source_filename == "ethics.jsonl"
    page = client.get(response["Location"]).content.decode()
    assert "Imported 25 items" in page and version.content_hash in page


def test_a_file_with_three_planted_problems_lists_each_line_and_writes_nothing(client, auditor):
    login(client, auditor)
    records = [item_record(index) for index in range(20)]
    lines = jsonl_lines(records)
    lines[2] = b'{"id": "broken", "dimension": \n'  # line 3: bad JSON
    records[8]["dimension"] = "safety.medicaton"  # line 9: unknown dimension
    records[14]["answer"] = "E"  # line 15: answer letter outside the options
    for index in (8, 14):
        lines[index] = jsonl_lines([records[index]])[0]

    response = post_import(client, upload("planted.jsonl", lines), suite="planted")

    assert response.status_code == 400
    page = response.content.decode()
    assert "3 problem(s) found; nothing was written" in page
    problems = response.context["failure"].problems
    assert [problem.line for problem in problems] == [3, 9, 15]
    for line in (3, 9, 15):
        assert f'<td class="num">{line}</td>' in page
    assert "bad JSON" in page
    assert "unknown dimension &#x27;safety.medicaton&#x27;" in page
    assert "answer letter E is not among the options (A–D)" in page
    assert "item-00008" in page  # the item id column
    assert not BenchmarkSuite.objects.filter(name="planted").exists()
    assert Item.objects.count() == 0


def test_a_csv_upload_works(client, auditor):
    login(client, auditor)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "dimension", "language", "question", "A", "B", "C", "D", "E", "answer", "explanation"])
    writer.writerow(["c1", "safety.medication", "en", "Which dose?", "1 mg", "2 mg", "3 mg", "", "", "B", "Why"])
    writer.writerow(["c2", "ethics.doctor_patient", "zh", "哪项正确？", "甲", "乙", "丙", "丁", "戊", "AE", ""])
    file = SimpleUploadedFile("items.csv", buffer.getvalue().encode(), content_type="text/csv")

    response = post_import(client, file, suite="from-csv")

    assert response.status_code == 302
    version = BenchmarkVersion.objects.get(suite__name="from-csv")
    assert version.label == "v1" and version.item_count == 2
    assert list(version.items.order_by("position").values_list("answer", flat=True)) == ["B", "AE"]
    assert version.items.get(external_id="c1").options == ["1 mg", "2 mg", "3 mg"]


def test_a_scenario_file_is_imported_as_a_scenario_version(client, auditor):
    login(client, auditor)
    file = SimpleUploadedFile("scenarios.jsonl", SCENARIOS.read_bytes())
    response = post_import(client, file, kind="scenarios", suite="sim", label="2026.1")
    version = ScenarioVersion.objects.get(suite__name="sim")
    assert response.status_code == 302
    assert response["Location"] == reverse("benchmark:scenario-version-detail", args=[version.pk])
    assert version.scenario_count > 0 and len(version.content_hash) == 64


def test_service_errors_are_shown_on_the_form(client, auditor, version):
    login(client, auditor)
    lines = jsonl_lines([item_record(1)])
    response = post_import(client, upload("again.jsonl", lines), suite="ethics-core", label="2026.1")
    assert response.status_code == 400
    assert "already has a version 2026.1" in response.content.decode()

    response = post_import(client, upload("items.exe", lines), suite="other")
    assert response.status_code == 400
    assert "Upload a .jsonl or .csv file." in response.content.decode()
    assert not BenchmarkSuite.objects.filter(name="other").exists()
    assert BenchmarkVersion.objects.count() == 1


# --- Export ----------------------------------------------------------------------------------------


def test_export_streams_lines_that_reimport_to_the_same_content_hash(client, auditor, version):
    login(client, auditor)
    response = client.get(reverse("benchmark:version-export", args=[version.pk]))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert response["Content-Disposition"] == 'attachment; filename="ethics-core-2026.1.jsonl"'
    lines = list(b"".join(response.streaming_content).splitlines(keepends=True))
    assert len(lines) == 60
    again = services.benchmark_version_import(suite_name="copy", lines=lines, filename="copy.jsonl")
    assert again.content_hash == version.content_hash


def test_scenario_export_reimports_to_the_same_content_hash(client, auditor, scenario_version):
    login(client, auditor)
    response = client.get(reverse("benchmark:scenario-version-export", args=[scenario_version.pk]))
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).splitlines(keepends=True)
    again = services.scenario_version_import(suite_name="copy", lines=lines, filename="copy.jsonl")
    assert again.content_hash == scenario_version.content_hash


# --- Browsing items --------------------------------------------------------------------------------


def test_item_filters_and_search_narrow_the_results(client, auditor, version):
    other = make_version(suite="other-suite", count=10)
    login(client, auditor)
    url = reverse("benchmark:item-list")

    def ids(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return {item.external_id for item in response.context["page"].object_list}, response

    everything, _ = ids()
    assert len(everything) == 50  # 70 items, first page of 50

    found, response = ids(version=other.pk)
    assert response.context["page"].paginator.count == 10

    found, _ = ids(version=version.pk, dimension="safety.medication")
    expected = set(version.items.filter(dimension__code="safety.medication").values_list("external_id", flat=True))
    assert found == expected and found

    found, response = ids(version=version.pk, language="zh")
    assert response.context["page"].paginator.count == 30
    assert all(item.language == "zh" for item in response.context["page"].object_list)

    found, response = ids(version=version.pk, multiple_answer="true")
    assert response.context["page"].paginator.count == 12
    found, response = ids(version=version.pk, multiple_answer="false")
    assert response.context["page"].paginator.count == 48

    found, _ = ids(version=version.pk, q="item-00042")
    assert found == {"item-00042"}
    found, _ = ids(version=version.pk, q="Explanation 17")
    assert found == {"item-00017"}


def test_pagination_links_keep_the_filters(client, auditor, version):
    make_version(suite="other-suite", count=70)
    login(client, auditor)
    response = client.get(reverse("benchmark:item-list"), {"language": "en"})
    page = response.content.decode()
    assert response.context["page"].paginator.count == 65
    assert "?language=en&amp;page=2" in page
    response = client.get(reverse("benchmark:item-list"), {"language": "en", "page": 2})
    assert len(response.context["page"].object_list) == 15


def test_an_unknown_filter_value_is_reported_not_a_crash(client, auditor, version):
    login(client, auditor)
    response = client.get(reverse("benchmark:item-list"), {"version": "999999", "language": "fr"})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"version", "language"}


# --- Retiring --------------------------------------------------------------------------------------


def test_an_auditor_retires_a_published_version(client, auditor, version):
    login(client, auditor)
    response = client.post(reverse("benchmark:version-retire", args=[version.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("benchmark:version-detail", args=[version.pk])
    version.refresh_from_db()
    assert version.status == BenchmarkVersion.Status.RETIRED
    page = client.get(response["Location"]).content.decode()
    assert "is retired" in page
    assert reverse("benchmark:version-retire", args=[version.pk]) not in page

    response = client.post(reverse("benchmark:version-retire", args=[version.pk]), follow=True)
    assert "cannot go from retired to retired" in response.content.decode()


def test_an_irb_member_may_not_retire_a_version(client, irb_member, version):
    login(client, irb_member)
    response = client.post(reverse("benchmark:version-retire", args=[version.pk]))
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.status == BenchmarkVersion.Status.PUBLISHED


def test_retire_refuses_get(client, auditor, version):
    login(client, auditor)
    assert client.get(reverse("benchmark:version-retire", args=[version.pk])).status_code == 405


# --- Query counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [5, 300])
def test_the_suite_list_and_version_detail_use_a_bounded_number_of_queries(
    client, auditor, scenario_version, django_assert_max_num_queries, count
):
    for suite in ("alpha", "beta", "gamma"):
        for label in ("v1", "v2"):
            version = make_version(suite=suite, label=label, count=count)
    login(client, auditor)
    with django_assert_max_num_queries(15):
        assert client.get(reverse("benchmark:suite-list")).status_code == 200
    with django_assert_max_num_queries(15):
        assert client.get(reverse("benchmark:version-detail", args=[version.pk])).status_code == 200
    with django_assert_max_num_queries(15):
        assert client.get(reverse("benchmark:item-list")).status_code == 200
    with django_assert_max_num_queries(15):
        assert client.get(reverse("benchmark:scenario-version-detail", args=[scenario_version.pk])).status_code == 200


def test_dimension_names_follow_the_interface_language(client, auditor, version, settings):
    login(client, auditor)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = client.get(reverse("benchmark:version-detail", args=[version.pk])).content.decode()
    assert "辅助生殖" in page and "ethics.assisted_reproduction" in page
