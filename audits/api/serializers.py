from rest_framework import serializers

from audits.models import Audit, AuditSchedule, ConversationResult, ItemResult, ModelEndpoint
from audits.reports import progress
from benchmark.models import BenchmarkVersion, ScenarioVersion


class ModelEndpointSerializer(serializers.ModelSerializer):
    """The API key is write-only: it is stored encrypted and never returned."""

    api_key = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=True)
    has_api_key = serializers.BooleanField(read_only=True)

    class Meta:
        model = ModelEndpoint
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "model",
            "api_key",
            "api_key_env",
            "has_api_key",
            "extra_headers",
            "temperature",
            "max_tokens",
            "seed",
            "max_concurrency",
            "requests_per_minute",
            "timeout_s",
            "max_retries",
            "team",
            "ai_system",
            "created_at",
            "last_checked_at",
            "last_check_ok",
            "last_check_detail",
        ]
        read_only_fields = ["created_at", "last_checked_at", "last_check_ok", "last_check_detail"]


class AuditSerializer(serializers.ModelSerializer):
    endpoint_name = serializers.CharField(source="endpoint.name", read_only=True)
    suite = serializers.CharField(source="suite_name", read_only=True)
    version = serializers.CharField(source="version_label", read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Audit
        fields = [
            "id",
            "kind",
            "endpoint",
            "endpoint_name",
            "benchmark_version",
            "scenario_version",
            "judge_endpoint",
            "suite",
            "version",
            "content_hash",
            "prompt_template_version",
            "parser_version",
            "dimension_codes",
            "sample_size",
            "sample_seed",
            "shuffle_seed",
            "variant_codes",
            "status",
            "requested_by",
            "team",
            "deployment_request",
            "schedule",
            "total_items",
            "done_items",
            "error_items",
            "created_at",
            "queued_at",
            "started_at",
            "finished_at",
            "failure_reason",
            "fingerprint",
            "fingerprint_hash",
            "fingerprint_changed",
            "summary",
            "progress",
        ]
        read_only_fields = fields

    def get_progress(self, audit) -> dict:
        return progress(audit)


class AuditCreateSerializer(serializers.Serializer):
    endpoint = serializers.PrimaryKeyRelatedField(queryset=ModelEndpoint.objects.all())
    benchmark_version = serializers.PrimaryKeyRelatedField(
        queryset=BenchmarkVersion.objects.all(), required=False, allow_null=True
    )
    scenario_version = serializers.PrimaryKeyRelatedField(
        queryset=ScenarioVersion.objects.all(), required=False, allow_null=True
    )
    judge_endpoint = serializers.PrimaryKeyRelatedField(
        queryset=ModelEndpoint.objects.all(), required=False, allow_null=True
    )
    dimension_codes = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    sample_size = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    sample_seed = serializers.IntegerField(required=False, default=0)
    shuffle_seed = serializers.IntegerField(required=False, allow_null=True)
    variant_codes = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    deployment_request = serializers.IntegerField(required=False, allow_null=True)
    start = serializers.BooleanField(default=True, help_text="queue at once (default) or leave scheduled")


class ItemResultSerializer(serializers.ModelSerializer):
    external_id = serializers.CharField(source="item.external_id", read_only=True)

    class Meta:
        model = ItemResult
        fields = [
            "id",
            "item",
            "external_id",
            "variant",
            "dimension_id",
            "prompt_hash",
            "permutation",
            "raw_response",
            "parsed_letters",
            "outcome",
            "parser_rule",
            "partial_credit",
            "latency_ms",
            "tokens_in",
            "tokens_out",
            "attempts",
            "error_detail",
        ]


class ConversationResultSerializer(serializers.ModelSerializer):
    external_id = serializers.CharField(source="scenario.external_id", read_only=True)

    class Meta:
        model = ConversationResult
        fields = [
            "id",
            "scenario",
            "external_id",
            "variant",
            "dimension_id",
            "language",
            "transcript",
            "rule_verdict",
            "rule_detail",
            "judge_verdict",
            "judge_score",
            "judge_rationale",
            "human_verdict",
            "human_note",
            "needs_adjudication",
            "adjudication_reason",
            "final_verdict",
            "latency_ms",
            "attempts",
            "error_detail",
        ]


class AdjudicationInput(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=[("pass", "pass"), ("fail", "fail")])
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AuditScheduleSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditSchedule
        fields = [
            "id",
            "name",
            "endpoint",
            "suite",
            "deployment_request",
            "interval_hours",
            "dimension_codes",
            "sample_size",
            "sample_seed",
            "enabled",
            "next_run_at",
            "last_audit",
        ]
        read_only_fields = ["last_audit"]
