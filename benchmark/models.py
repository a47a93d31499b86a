from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from config.errors import TransitionNotAllowed


class Category(models.TextChoices):
    ETHICS = "ethics", _("Medical ethics")
    SAFETY = "safety", _("Patient safety")


class Language(models.TextChoices):
    ZH = "zh", _("Chinese")
    EN = "en", _("English")


class Dimension(models.Model):
    """One of the benchmark's dimensions; ``code`` is part of the public file format and never changes."""

    code = models.CharField(max_length=64, unique=True)
    category = models.CharField(max_length=16, choices=Category.choices)
    name_en = models.CharField(max_length=200)
    name_zh = models.CharField(max_length=200)
    description_en = models.TextField(blank=True)
    description_zh = models.TextField(blank=True)
    sort_order = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(category__in=["ethics", "safety"]), name="dimension_category_valid"),
            models.CheckConstraint(
                condition=Q(code__regex=r"^(ethics|safety)\.[a-z0-9_]+$"), name="dimension_code_format"
            ),
        ]

    def __str__(self):
        return self.code

    @property
    def name(self) -> str:
        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en


class BenchmarkSuite(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def latest_published_version(self):
        return self.versions.filter(status=BenchmarkVersion.Status.PUBLISHED).order_by("-published_at", "-pk").first()


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class FrozenVersion(models.Model):
    """A content set that is written once as a draft, then published and never changed again."""

    Status = VersionStatus
    TRANSITIONS = {
        VersionStatus.DRAFT: {VersionStatus.PUBLISHED},
        VersionStatus.PUBLISHED: {VersionStatus.RETIRED},
        VersionStatus.RETIRED: {VersionStatus.PUBLISHED},
    }

    label = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    content_hash = models.CharField(max_length=64, blank=True)
    source_filename = models.CharField(max_length=255, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{self.suite.name} {self.label}"

    @property
    def is_frozen(self) -> bool:
        return self.status != VersionStatus.DRAFT

    def transition(self, *, to: str) -> None:
        if to not in self.TRANSITIONS.get(self.status, set()):
            raise TransitionNotAllowed(
                _("Version %(label)s cannot go from %(from)s to %(to)s.")
                % {"label": self.label, "from": self.status, "to": to}
            )
        self.status = to
        if to == VersionStatus.PUBLISHED and self.published_at is None:
            self.published_at = timezone.now()
        self.save(update_fields=["status", "published_at"])


def _version_constraints(prefix: str) -> list:
    return [
        models.UniqueConstraint(fields=["suite", "label"], name=f"{prefix}_label_unique"),
        models.CheckConstraint(
            condition=Q(status__in=["draft", "published", "retired"]), name=f"{prefix}_status_valid"
        ),
        models.CheckConstraint(
            condition=Q(status="draft") | (Q(content_hash__regex=r"^[0-9a-f]{64}$") & Q(published_at__isnull=False)),
            name=f"{prefix}_published_has_hash",
        ),
    ]


class BenchmarkVersion(FrozenVersion):
    """An item set. Once published its items never change; ``content_hash`` proves which items an audit used."""

    suite = models.ForeignKey(BenchmarkSuite, on_delete=models.PROTECT, related_name="versions")
    item_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["suite__name", "-created_at"]
        constraints = _version_constraints("benchmark_version")


class Item(models.Model):
    version = models.ForeignKey(BenchmarkVersion, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=128)
    position = models.PositiveIntegerField()
    dimension = models.ForeignKey(Dimension, on_delete=models.PROTECT, related_name="items")
    language = models.CharField(max_length=2, choices=Language.choices)
    question = models.TextField()
    options = models.JSONField(help_text="Option texts in letter order: A, B, C, …")
    answer = models.CharField(max_length=10, help_text="Correct letters, sorted, e.g. 'B' or 'AC'.")
    explanation = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "external_id"], name="item_external_id_unique_in_version"),
            models.CheckConstraint(condition=Q(language__in=["zh", "en"]), name="item_language_valid"),
            models.CheckConstraint(condition=Q(answer__regex=r"^[A-J]{1,10}$"), name="item_answer_letters"),
        ]
        indexes = [models.Index(fields=["version", "dimension", "language"], name="item_version_dim_lang")]

    def __str__(self):
        return self.external_id

    @property
    def letters(self) -> str:
        return "ABCDEFGHIJ"[: len(self.options)]

    @property
    def lettered_options(self) -> list[tuple[str, str]]:
        return list(zip(self.letters, self.options, strict=True))

    @property
    def is_multiple_answer(self) -> bool:
        return len(self.answer) > 1


class ScenarioSuite(models.Model):
    """Open-ended safety-simulation scenarios, versioned like benchmark suites."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def latest_published_version(self):
        return self.versions.filter(status=VersionStatus.PUBLISHED).order_by("-published_at", "-pk").first()


class ScenarioVersion(FrozenVersion):
    suite = models.ForeignKey(ScenarioSuite, on_delete=models.PROTECT, related_name="versions")
    scenario_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["suite__name", "-created_at"]
        constraints = _version_constraints("scenario_version")


class Scenario(models.Model):
    class Expected(models.TextChoices):
        MUST_REFUSE = "must_refuse", _("Must refuse")
        MUST_ESCALATE = "must_escalate", _("Must escalate to urgent care or a clinician")
        SAFE_COMPLETE = "safe_complete", _("Must answer helpfully and safely")

    class Persona(models.TextChoices):
        PATIENT = "patient", _("Patient")
        RELATIVE = "relative", _("Relative")
        JUNIOR_DOCTOR = "junior_doctor", _("Junior doctor")
        ATTACKER = "attacker", _("Attacker")

    version = models.ForeignKey(ScenarioVersion, on_delete=models.CASCADE, related_name="scenarios")
    external_id = models.CharField(max_length=128)
    position = models.PositiveIntegerField()
    dimension = models.ForeignKey(Dimension, on_delete=models.PROTECT, related_name="scenarios")
    language = models.CharField(max_length=2, choices=Language.choices)
    persona = models.CharField(max_length=16, choices=Persona.choices, blank=True)
    system_prompt = models.TextField(blank=True)
    turns = models.JSONField(help_text="User turns, in order.")
    expected = models.CharField(max_length=16, choices=Expected.choices)
    must_include = models.JSONField(default=list, blank=True)
    must_not_include = models.JSONField(default=list, blank=True)
    rubric = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "external_id"], name="scenario_id_unique_in_version"),
            models.CheckConstraint(condition=Q(language__in=["zh", "en"]), name="scenario_language_valid"),
            models.CheckConstraint(
                condition=Q(expected__in=["must_refuse", "must_escalate", "safe_complete"]),
                name="scenario_expected_valid",
            ),
        ]

    def __str__(self):
        return self.external_id
