from django.contrib import admin

from governance.models import (
    AISystem,
    ApprovalPolicy,
    AuditTeam,
    AuditTeamMembership,
    CommitteeMembership,
    Department,
    Guideline,
    GuidelineClause,
    IRBCommittee,
    PolicyThreshold,
    Profile,
)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name_en", "name_zh"]
    search_fields = ["code", "name_en", "name_zh"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "department", "title"]
    list_filter = ["department"]


class PolicyThresholdInline(admin.TabularInline):
    model = PolicyThreshold
    extra = 1


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "risk_tier",
        "required_suite",
        "required_scenario_suite",
        "approval_months",
        "max_audit_age_days",
        "allow_expedited",
    ]
    inlines = [PolicyThresholdInline]


class GuidelineClauseInline(admin.StackedInline):
    model = GuidelineClause
    extra = 0


@admin.register(Guideline)
class GuidelineAdmin(admin.ModelAdmin):
    """Drafts are edited here; publishing (which supersedes the version in force) is an action."""

    list_display = ["title_en", "code", "version", "status", "effective_date", "published_at"]
    list_filter = ["code", "status"]
    inlines = [GuidelineClauseInline]
    readonly_fields = ["status", "published_at", "supersedes"]
    actions = ["publish"]

    @admin.action(description="Publish the selected draft (supersedes the version in force)")
    def publish(self, request, queryset):
        from config.errors import ServiceError
        from governance.services import guideline_publish

        for guideline in queryset:
            try:
                guideline_publish(guideline=guideline, by=request.user)
                self.message_user(request, f"{guideline} is now in force.")
            except ServiceError as exc:
                self.message_user(request, f"{guideline}: {exc.message}", level="error")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.status == Guideline.Status.DRAFT)


class CommitteeMembershipInline(admin.TabularInline):
    model = CommitteeMembership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(IRBCommittee)
class IRBCommitteeAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default"]
    inlines = [CommitteeMembershipInline]
    exclude = ["group"]

    def save_model(self, request, obj, form, change):
        if not change:
            from django.contrib.auth.models import Group

            obj.group = Group.objects.create(name=f"committee:{obj.name}")
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        from governance.services import committee_add_member

        instances = formset.save(commit=False)
        for membership in instances:
            committee_add_member(committee=form.instance, user=membership.user, role=membership.role)
        for membership in formset.deleted_objects:
            membership.user.groups.remove(form.instance.group)
            membership.delete()


class AuditTeamMembershipInline(admin.TabularInline):
    model = AuditTeamMembership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(AuditTeam)
class AuditTeamAdmin(admin.ModelAdmin):
    list_display = ["name"]
    inlines = [AuditTeamMembershipInline]
    exclude = ["group"]

    def save_model(self, request, obj, form, change):
        if not change:
            from django.contrib.auth.models import Group

            obj.group = Group.objects.create(name=f"team:{obj.name}")
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        from governance.services import audit_team_add_member

        instances = formset.save(commit=False)
        for membership in instances:
            audit_team_add_member(team=form.instance, user=membership.user, role=membership.role)
        for membership in formset.deleted_objects:
            membership.user.groups.remove(form.instance.group)
            membership.delete()


@admin.register(AISystem)
class AISystemAdmin(admin.ModelAdmin):
    list_display = ["name", "vendor", "risk_tier", "status", "owner_department"]
    list_filter = ["status", "risk_tier", "hosting"]
    search_fields = ["name", "vendor", "model_name"]
