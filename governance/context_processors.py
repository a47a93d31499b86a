from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from governance.models import Role
from governance.roles import user_roles

# (url name, label, roles that see it; None = every signed-in user)
NAVIGATION = [
    ("home", _("Home"), None),
    ("governance:dashboard", _("Compliance dashboard"), {Role.COMPLIANCE_ADMIN}),
    ("governance:request-list", _("Deployment requests"), None),
    ("governance:review-queue", _("My reviews"), {Role.IRB_MEMBER}),
    ("governance:meeting-list", _("Meetings"), {Role.IRB_MEMBER, Role.COMPLIANCE_ADMIN}),
    ("governance:system-list", _("AI systems"), None),
    ("audits:audit-list", _("Audits"), {Role.AUDITOR, Role.COMPLIANCE_ADMIN}),
    ("audits:endpoint-list", _("Endpoints"), {Role.AUDITOR, Role.COMPLIANCE_ADMIN}),
    ("audits:adjudication-queue", _("Adjudication"), {Role.AUDITOR}),
    ("benchmark:suite-list", _("Benchmark"), {Role.AUDITOR, Role.IRB_MEMBER, Role.COMPLIANCE_ADMIN}),
    ("governance:policy-list", _("Policies & guidelines"), {Role.COMPLIANCE_ADMIN, Role.REQUESTER, Role.IRB_MEMBER}),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": set()}
    roles = user_roles(user)
    items = []
    for url_name, label, allowed in NAVIGATION:
        if allowed is not None and not (roles & {role.value for role in allowed}) and not user.is_superuser:
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"url": url, "label": label, "active": active})
    if user.is_staff:
        items.append({"url": reverse("admin:index"), "label": _("Admin"), "active": False})
    unread = user.notifications.filter(read_at__isnull=True).count()
    return {"nav_items": items, "user_roles": roles, "unread_notifications": unread}
