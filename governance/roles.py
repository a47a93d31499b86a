"""Institution-wide roles (Django groups) and the model permissions each carries.

Object-level access (which request, which audit) is granted per object with django-guardian by the
services that create or route those objects; these groups carry only model-wide permissions.
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from governance.backends import cached_user_fact
from governance.models import Role

_VIEW_ALL_APPS = ("benchmark", "audits", "governance")

ROLE_PERMISSIONS = {
    Role.REQUESTER: [
        "governance.add_deploymentrequest",
        "governance.add_aisystem",
    ],
    Role.AUDITOR: [
        "audits.add_modelendpoint",
        "audits.add_audit",
        "audits.add_auditschedule",
        "benchmark.add_benchmarksuite",
        "benchmark.add_scenariosuite",
        "benchmark.view_benchmarksuite",
        "benchmark.view_benchmarkversion",
        "benchmark.view_item",
        "benchmark.view_scenariosuite",
        "benchmark.view_scenarioversion",
        "benchmark.view_scenario",
        "benchmark.view_dimension",
    ],
    Role.IRB_MEMBER: [
        "benchmark.view_benchmarksuite",
        "benchmark.view_benchmarkversion",
        "benchmark.view_item",
        "benchmark.view_scenariosuite",
        "benchmark.view_scenarioversion",
        "benchmark.view_scenario",
        "benchmark.view_dimension",
        "governance.view_aisystem",
    ],
    Role.COMPLIANCE_ADMIN: [
        "governance.add_approvalpolicy",
        "governance.change_approvalpolicy",
        "governance.add_policythreshold",
        "governance.change_policythreshold",
        "governance.delete_policythreshold",
        "governance.add_guideline",
        "governance.change_guideline",
        "governance.add_guidelineclause",
        "governance.change_guidelineclause",
        "governance.change_aisystem",
        "benchmark.change_dimension",
        "audits.change_auditschedule",
    ],
}


def ensure_role_groups(**kwargs) -> None:
    """Create the role groups and give them their permissions (idempotent; runs after every migrate)."""
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role.value)
        wanted = Q(pk__in=[])
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        permissions = list(Permission.objects.filter(wanted))
        if role == Role.COMPLIANCE_ADMIN:
            # Compliance administrators see everything, read-only unless listed above.
            permissions += list(
                Permission.objects.filter(content_type__app_label__in=_VIEW_ALL_APPS, codename__startswith="view_")
            )
        group.permissions.add(*permissions)


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_medgov_roles", None)
    if cached is None:
        cached = cached_user_fact(
            user, "roles", lambda: set(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        )
        user._medgov_roles = cached
    return cached


def has_role(user, role: str) -> bool:
    return role in user_roles(user)
