from django.contrib import admin

from benchmark.models import BenchmarkSuite, BenchmarkVersion, Dimension, ScenarioSuite, ScenarioVersion


@admin.register(Dimension)
class DimensionAdmin(admin.ModelAdmin):
    list_display = ["code", "category", "name_en", "name_zh", "sort_order", "is_active"]
    list_filter = ["category", "is_active"]
    list_editable = ["sort_order", "is_active"]
    search_fields = ["code", "name_en", "name_zh"]
    readonly_fields = ["code", "category"]  # codes are part of the public file format

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyVersionInline(admin.TabularInline):
    extra = 0
    can_delete = False
    fields = ["label", "status", "content_hash", "published_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class BenchmarkVersionInline(ReadOnlyVersionInline):
    model = BenchmarkVersion


class ScenarioVersionInline(ReadOnlyVersionInline):
    model = ScenarioVersion


@admin.register(BenchmarkSuite)
class BenchmarkSuiteAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_at"]
    search_fields = ["name"]
    inlines = [BenchmarkVersionInline]


@admin.register(ScenarioSuite)
class ScenarioSuiteAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_at"]
    search_fields = ["name"]
    inlines = [ScenarioVersionInline]
