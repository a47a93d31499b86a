import django_filters

from governance.models import DeploymentRequest


class DeploymentRequestFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=DeploymentRequest.Status.choices)
    expires_before = django_filters.IsoDateTimeFilter(field_name="expires_at", lookup_expr="lte")
    expires_after = django_filters.IsoDateTimeFilter(field_name="expires_at", lookup_expr="gte")
    department = django_filters.NumberFilter(field_name="ai_system__owner_department")

    class Meta:
        model = DeploymentRequest
        fields = [
            "status",
            "risk_tier",
            "kind",
            "amendment_kind",
            "ai_system",
            "committee",
            "review_type",
            "determination",
        ]
