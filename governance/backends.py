"""Per-user authorisation facts (model permissions, role groups) kept in the shared cache between requests.

Django's ModelBackend asks the database for a user's permissions on every request (two queries) and the
role check asks for the user's groups (one more): together about a tenth of a page's time under load.
The answers are cached per user under a version that any change to group membership or to a group's or
user's permissions bumps, so a revoked role stops working at the next request (with the Redis cache,
shared by every process; without REDIS_URL each process has its own cache, so other processes see the change
at the latest after ``FACTS_TTL_SECONDS``). A version that cannot be bumped fails the change loudly.
Object permissions (django-guardian) are not cached.
"""

import time
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

FACTS_TTL_SECONDS = 60
_VERSION_KEY = "medgov:auth-facts-version"


def _version() -> int:
    version = cache.get(_VERSION_KEY)
    if version is None:
        cache.add(_VERSION_KEY, 1, timeout=None)
        version = cache.get(_VERSION_KEY, 1)
    return version


def _bump() -> None:
    try:
        bumped = cache.incr(_VERSION_KEY)
    except ValueError:  # not in the cache (evicted or never set): any other number is a new version too
        bumped = cache.add(_VERSION_KEY, int(time.time() * 1000), timeout=None) or cache.incr(_VERSION_KEY)
    if bumped is None:  # a cache that could not be reached must not keep serving the old facts silently
        raise RuntimeError("the permission cache could not be invalidated; try again when Redis is reachable")


def bump_version(**_kwargs) -> None:
    """Invalidate every cached fact now and again once the change is committed.

    The second bump closes the window in which another process, reading the old committed rows, could
    cache them under the version the first bump made."""
    _bump()
    transaction.on_commit(_bump)


def cached_user_fact(user, name: str, compute: Callable[[], set[str]]) -> set[str]:
    """``compute()`` for this user, from the cache when the authorisation facts have not changed since."""
    # date_joined tells apart users that reuse a primary key (a database restored or rolled back); the
    # superuser flag is read from the user's own row on every request, so a change to it applies at once.
    key = f"medgov:auth:{name}:{user.pk}:{user.date_joined.timestamp()}:{user.is_superuser:d}:{_version()}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, FACTS_TTL_SECONDS)
    return value


class CachedModelBackend(ModelBackend):
    """ModelBackend with the user's and groups' permissions read through ``cached_user_fact``."""

    def _cached(self, user_obj, obj, source: str, compute):
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return compute(user_obj, obj)
        attribute = f"_{source}_perm_cache"  # the per-request cache ModelBackend itself uses
        if not hasattr(user_obj, attribute):
            setattr(user_obj, attribute, cached_user_fact(user_obj, f"{source}-perms", lambda: compute(user_obj)))
        return getattr(user_obj, attribute)

    def get_user_permissions(self, user_obj, obj=None):
        return self._cached(user_obj, obj, "user", super().get_user_permissions)

    def get_group_permissions(self, user_obj, obj=None):
        return self._cached(user_obj, obj, "group", super().get_group_permissions)


def connect_invalidation() -> None:
    user_model = get_user_model()
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(bump_version, sender=through, dispatch_uid=f"medgov-auth-facts-{through._meta.label}")
    for model in (Group, user_model):
        # a user's is_superuser/is_active change is read from the user row itself; a deleted group or user
        # takes its memberships with it without an m2m signal
        post_delete.connect(bump_version, sender=model, dispatch_uid=f"medgov-auth-facts-delete-{model._meta.label}")
    post_save.connect(bump_version, sender=Group, dispatch_uid="medgov-auth-facts-group-saved")
