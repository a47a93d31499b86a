import django_filters

from audits.models import Audit, ConversationResult, ItemResult


class AuditFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Audit.Status.choices)
    suite = django_filters.CharFilter(method="filter_suite")

    class Meta:
        model = Audit
        fields = ["status", "kind", "endpoint", "deployment_request", "team", "suite"]

    def filter_suite(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(benchmark_version__suite__name=value) | Q(scenario_version__suite__name=value))


class ItemResultFilterSet(django_filters.FilterSet):
    dimension = django_filters.CharFilter(field_name="item__dimension__code")
    language = django_filters.CharFilter(field_name="item__language")

    class Meta:
        model = ItemResult
        fields = ["outcome", "variant", "dimension", "language"]


class ConversationResultFilterSet(django_filters.FilterSet):
    dimension = django_filters.CharFilter(field_name="scenario__dimension__code")

    class Meta:
        model = ConversationResult
        fields = [
            "final_verdict",
            "rule_verdict",
            "judge_verdict",
            "needs_adjudication",
            "variant",
            "dimension",
            "language",
            "audit",
        ]
