import django_filters

from benchmark.models import BenchmarkVersion, Item


class BenchmarkVersionFilterSet(django_filters.FilterSet):
    suite = django_filters.CharFilter(field_name="suite__name")

    class Meta:
        model = BenchmarkVersion
        fields = ["suite", "status", "label"]


class ItemFilterSet(django_filters.FilterSet):
    dimension = django_filters.CharFilter(field_name="dimension__code")
    suite = django_filters.CharFilter(field_name="version__suite__name")
    q = django_filters.CharFilter(method="search_text", label="Search in question and options")
    multiple_answer = django_filters.BooleanFilter(method="filter_multiple")

    class Meta:
        model = Item
        fields = ["version", "dimension", "language", "suite"]

    def search_text(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(
            Q(question__icontains=value) | Q(external_id__icontains=value) | Q(explanation__icontains=value)
        )

    def filter_multiple(self, queryset, name, value):
        from django.db.models.functions import Length

        queryset = queryset.annotate(answer_length=Length("answer"))
        return queryset.filter(answer_length__gt=1) if value else queryset.filter(answer_length=1)
