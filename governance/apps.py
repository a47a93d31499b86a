from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = _("Governance")

    def ready(self):
        from governance.backends import connect_invalidation
        from governance.roles import ensure_role_groups

        connect_invalidation()

        post_migrate.connect(ensure_role_groups, sender=self, dispatch_uid="governance-role-groups")
