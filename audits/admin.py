from django.contrib import admin

from audits.models import Audit, AuditSchedule, ModelEndpoint


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "model", "base_url", "max_concurrency", "requests_per_minute", "team", "ai_system"]
    search_fields = ["name", "model", "base_url"]
    list_filter = ["kind", "team"]
    exclude = ["api_key_encrypted"]  # never shown; set keys through the endpoint form or register_endpoint


@admin.register(AuditSchedule)
class AuditScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "endpoint", "suite", "interval_hours", "next_run_at", "enabled", "deployment_request"]
    list_filter = ["enabled"]
    list_editable = ["enabled", "interval_hours"]
    raw_id_fields = ["last_audit", "deployment_request"]


@admin.register(Audit)
class AuditAdmin(admin.ModelAdmin):
    """Read-only: audits change only through their lifecycle."""

    list_display = ["id", "kind", "endpoint", "status", "done_items", "total_items", "created_at"]
    list_filter = ["status", "kind"]
    readonly_fields = [field.name for field in Audit._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
