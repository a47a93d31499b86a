"""Registered model endpoints and the audits that measure them."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.errors import TransitionNotAllowed

User = settings.AUTH_USER_MODEL


class ModelEndpoint(models.Model):
    class Kind(models.TextChoices):
        OPENAI_CHAT = "openai_chat", _("OpenAI-compatible chat completions")

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OPENAI_CHAT)
    base_url = models.URLField(max_length=500, help_text=_("e.g. http://vllm.internal:8000/v1"))
    model = models.CharField(max_length=200)
    api_key_encrypted = models.TextField(blank=True, editable=False)
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text=_("Name of an environment variable holding the API key.")
    )
    extra_headers = models.JSONField(default=dict, blank=True)
    temperature = models.FloatField(default=0.0)
    max_tokens = models.PositiveIntegerField(null=True, blank=True, default=1024)
    seed = models.BigIntegerField(null=True, blank=True)
    max_concurrency = models.PositiveIntegerField(default=8)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    timeout_s = models.FloatField(default=60.0)
    max_retries = models.PositiveIntegerField(default=4)
    team = models.ForeignKey(
        "governance.AuditTeam", null=True, blank=True, on_delete=models.SET_NULL, related_name="endpoints"
    )
    ai_system = models.ForeignKey(
        "governance.AISystem", null=True, blank=True, on_delete=models.SET_NULL, related_name="endpoints"
    )
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_detail = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["openai_chat"]), name="endpoint_kind_valid"),
            models.CheckConstraint(
                condition=Q(max_concurrency__gte=1, max_concurrency__lte=1024), name="endpoint_concurrency_range"
            ),
            models.CheckConstraint(condition=Q(timeout_s__gt=0), name="endpoint_timeout_positive"),
            models.CheckConstraint(condition=Q(max_retries__lte=20), name="endpoint_max_retries_bounded"),
            models.CheckConstraint(
                condition=Q(temperature__gte=0, temperature__lte=2), name="endpoint_temperature_range"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted or self.api_key_env)

    def generation_parameters(self) -> dict:
        params = {"temperature": self.temperature}
        if self.max_tokens:
            params["max_tokens"] = self.max_tokens
        if self.seed is not None:
            params["seed"] = self.seed
        return params


class AuditSchedule(models.Model):
    """A recurring audit: an endpoint against the latest published version of a suite, every N hours."""

    name = models.CharField(max_length=160)
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.CASCADE, related_name="schedules")
    suite = models.ForeignKey("benchmark.BenchmarkSuite", on_delete=models.PROTECT, related_name="schedules")
    deployment_request = models.ForeignKey(
        "governance.DeploymentRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="schedules"
    )
    interval_hours = models.PositiveIntegerField(default=24 * 30)
    dimension_codes = models.JSONField(default=list, blank=True)
    sample_size = models.PositiveIntegerField(null=True, blank=True)
    sample_seed = models.BigIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(default=timezone.now)
    last_audit = models.ForeignKey("Audit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["next_run_at"]
        constraints = [models.CheckConstraint(condition=Q(interval_hours__gte=1), name="schedule_interval_positive")]

    def __str__(self):
        return self.name


class Audit(models.Model):
    class Kind(models.TextChoices):
        BENCHMARK = "benchmark", _("Benchmark (multiple choice)")
        SIMULATION = "simulation", _("Safety simulation")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        COMPLETED_WITH_ERRORS = "completed_with_errors", _("Completed with errors")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    S = Status
    TRANSITIONS = {
        S.SCHEDULED: {S.QUEUED, S.CANCELLED},
        S.QUEUED: {S.RUNNING, S.FAILED, S.CANCELLED},
        S.RUNNING: {S.COMPLETED, S.COMPLETED_WITH_ERRORS, S.FAILED, S.CANCELLED},
    }
    TERMINAL = (S.COMPLETED, S.COMPLETED_WITH_ERRORS, S.FAILED, S.CANCELLED)
    FINISHED_WITH_SCORES = (S.COMPLETED, S.COMPLETED_WITH_ERRORS)

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.BENCHMARK)
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="audits")
    benchmark_version = models.ForeignKey(
        "benchmark.BenchmarkVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="audits"
    )
    scenario_version = models.ForeignKey(
        "benchmark.ScenarioVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="audits"
    )
    judge_endpoint = models.ForeignKey(
        ModelEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="judged_audits"
    )
    content_hash = models.CharField(max_length=64)
    prompt_template_version = models.CharField(max_length=40)
    parser_version = models.CharField(max_length=40)
    dimension_codes = models.JSONField(default=list, blank=True, help_text=_("Empty: every dimension."))
    sample_size = models.PositiveIntegerField(null=True, blank=True)
    sample_seed = models.BigIntegerField(default=0)
    shuffle_seed = models.BigIntegerField(null=True, blank=True)
    variant_codes = models.JSONField(default=list, blank=True, help_text=_("Adversarial transformations to add."))
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.SCHEDULED)
    requested_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="audits")
    team = models.ForeignKey(
        "governance.AuditTeam", null=True, blank=True, on_delete=models.SET_NULL, related_name="audits"
    )
    deployment_request = models.ForeignKey(
        "governance.DeploymentRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="audits"
    )
    schedule = models.ForeignKey(AuditSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="audits")
    total_items = models.PositiveIntegerField(default=0)
    done_items = models.PositiveIntegerField(default=0)
    error_items = models.PositiveIntegerField(default=0)
    outcome_counts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_progress_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)
    fingerprint = models.JSONField(default=dict, blank=True)
    fingerprint_hash = models.CharField(max_length=64, blank=True)
    fingerprint_changed = models.BooleanField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text=_("Stored scores: overall, categories, dimensions."))
    scored_at = models.DateTimeField(null=True, blank=True)
    requeue_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "scheduled",
                        "queued",
                        "running",
                        "completed",
                        "completed_with_errors",
                        "failed",
                        "cancelled",
                    ]
                ),
                name="audit_status_valid",
            ),
            models.CheckConstraint(
                condition=(Q(kind="benchmark") & Q(benchmark_version__isnull=False))
                | (Q(kind="simulation") & Q(scenario_version__isnull=False)),
                name="audit_has_content_of_its_kind",
            ),
            models.CheckConstraint(condition=Q(done_items__lte=models.F("total_items")), name="audit_progress_bounded"),
        ]
        indexes = [
            models.Index(fields=["status"], name="audit_status"),
            models.Index(fields=["endpoint", "-created_at"], name="audit_endpoint_recent"),
        ]

    def __str__(self):
        return f"Audit #{self.pk} {self.endpoint} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def has_scores(self) -> bool:
        return self.status in self.FINISHED_WITH_SCORES and bool(self.summary)

    @property
    def suite_name(self) -> str:
        version = self.benchmark_version or self.scenario_version
        return version.suite.name

    @property
    def version_label(self) -> str:
        version = self.benchmark_version or self.scenario_version
        return version.label

    def transition(self, *, to: str, reason: str = "") -> None:
        """Move along an allowed edge with a conditional update, so two workers cannot both finish an audit."""
        allowed = self.TRANSITIONS.get(self.status, set())
        if to not in allowed:
            raise TransitionNotAllowed(
                _("Audit %(pk)s cannot go from %(from)s to %(to)s.") % {"pk": self.pk, "from": self.status, "to": to}
            )
        now = timezone.now()
        fields = {"status": to}
        if to == self.Status.QUEUED:
            fields["queued_at"] = now
        elif to == self.Status.RUNNING:
            fields["started_at"] = now
            fields["last_progress_at"] = now
        elif to in self.TERMINAL:
            fields["finished_at"] = now
        if reason:
            fields["failure_reason"] = reason[:2000]
        updated = Audit.objects.filter(pk=self.pk, status=self.status).update(**fields)
        if updated != 1:
            self.refresh_from_db(fields=["status"])
            raise TransitionNotAllowed(
                _("Audit %(pk)s changed state meanwhile (now %(now)s).") % {"pk": self.pk, "now": self.status}
            )
        for name, value in fields.items():
            setattr(self, name, value)

    @property
    def duration(self) -> timedelta | None:
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class AuditChunk(models.Model):
    """A slice of an audit's work, run by one Celery task under a renewable lease."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    units = models.JSONField(help_text=_("[[object id, variant code], …] to run."))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    lease_owner = models.CharField(max_length=120, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["audit", "index"]
        constraints = [
            models.UniqueConstraint(fields=["audit", "index"], name="audit_chunk_index_unique"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "done"]), name="audit_chunk_status_valid"
            ),
        ]


class Outcome(models.TextChoices):
    CORRECT = "correct", _("Correct")
    WRONG = "wrong", _("Wrong")
    REFUSED = "refused", _("Refused")
    UNPARSEABLE = "unparseable", _("Unparseable")
    EMPTY = "empty", _("Empty")
    ERROR = "error", _("Error")


class ItemResult(models.Model):
    """One benchmark item (or one adversarial variant of it) answered by the endpoint in one audit."""

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="item_results")
    item = models.ForeignKey("benchmark.Item", on_delete=models.PROTECT, related_name="results")
    variant = models.CharField(max_length=40, blank=True, default="")
    dimension_id = models.IntegerField(help_text=_("Copied from the item so reports aggregate without a join."))
    prompt_hash = models.CharField(max_length=64)
    permutation = models.JSONField(null=True, blank=True)
    raw_response = models.TextField(blank=True)
    parsed_letters = models.CharField(max_length=10, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    parser_rule = models.CharField(max_length=40, blank=True)
    partial_credit = models.FloatField(default=0.0)
    latency_ms = models.FloatField(null=True, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=1)
    error_detail = models.TextField(blank=True)
    model_reported = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["audit", "item", "variant"], name="one_result_per_audit_item_variant"),
            models.CheckConstraint(
                condition=Q(outcome__in=["correct", "wrong", "refused", "unparseable", "empty", "error"]),
                name="item_result_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(partial_credit__gte=0, partial_credit__lte=1), name="item_result_partial_credit_range"
            ),
        ]
        # Drill-down pages page through one audit's rows in id order, optionally by outcome.
        indexes = [
            models.Index(fields=["audit", "outcome", "id"], name="item_result_audit_outcome_id"),
            models.Index(fields=["audit", "id"], name="item_result_audit_id"),
        ]


class ConversationResult(models.Model):
    """One safety-simulation scenario (or variant) played against the endpoint and graded."""

    class Verdict(models.TextChoices):
        PASS = "pass", _("Safe")
        FAIL = "fail", _("Unsafe")
        ERROR = "error", _("Error")

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="conversation_results")
    scenario = models.ForeignKey("benchmark.Scenario", on_delete=models.PROTECT, related_name="results")
    variant = models.CharField(max_length=40, blank=True, default="")
    dimension_id = models.IntegerField()
    language = models.CharField(
        max_length=2, blank=True, help_text=_("The language the conversation was played in (a translation's target).")
    )
    prompt_hash = models.CharField(max_length=64)
    transcript = models.JSONField(default=list, help_text=_("Every message sent and received, in order."))
    rule_verdict = models.CharField(max_length=8, choices=Verdict.choices, blank=True)
    rule_detail = models.JSONField(default=dict, blank=True)
    judge_verdict = models.CharField(max_length=8, choices=Verdict.choices, blank=True)
    judge_score = models.FloatField(null=True, blank=True)
    judge_rationale = models.TextField(blank=True)
    judge_attempts = models.PositiveSmallIntegerField(default=0)
    human_verdict = models.CharField(max_length=8, choices=Verdict.choices, blank=True)
    human_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    human_at = models.DateTimeField(null=True, blank=True)
    human_note = models.TextField(blank=True)
    needs_adjudication = models.BooleanField(default=False)
    adjudication_reason = models.CharField(max_length=40, blank=True)
    final_verdict = models.CharField(max_length=8, choices=Verdict.choices)
    latency_ms = models.FloatField(null=True, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=1)
    error_detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["audit", "scenario", "variant"], name="one_result_per_audit_scenario_variant"
            ),
            models.CheckConstraint(
                condition=Q(final_verdict__in=["pass", "fail", "error"]), name="final_verdict_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["audit", "final_verdict", "id"], name="conversation_audit_verdict_id"),
            models.Index(fields=["audit", "id"], name="conversation_audit_id"),
            models.Index(fields=["audit", "needs_adjudication"], name="conversation_adjudication"),
        ]
