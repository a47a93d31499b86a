"""Cached authorisation facts: faster pages, never a stale grant, and no outage when Redis is down."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.exceptions import RedisError

from config.cache import ForgivingRedisCache
from governance.backends import cached_user_fact
from governance.models import Role
from governance.roles import user_roles
from governance.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fresh(user):
    """The user as the next request sees it: loaded anew, without per-request caches."""
    return get_user_model().objects.get(pk=user.pk)


def test_permissions_and_roles_are_read_from_the_cache_on_the_next_request():
    auditor = UserFactory(roles=[Role.AUDITOR])
    assert fresh(auditor).has_perm("audits.add_audit")
    assert Role.AUDITOR in user_roles(fresh(auditor))

    user = fresh(auditor)
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perm("audits.add_audit")
        assert Role.AUDITOR in user_roles(user)
    assert len(queries) == 0


def test_a_revoked_role_stops_working_at_the_next_request():
    auditor = UserFactory(roles=[Role.AUDITOR])
    assert fresh(auditor).has_perm("audits.add_audit")

    auditor.groups.remove(Group.objects.get(name=Role.AUDITOR))

    assert not fresh(auditor).has_perm("audits.add_audit")
    assert Role.AUDITOR not in user_roles(fresh(auditor))


def test_a_permission_taken_from_a_group_stops_working_at_the_next_request():
    auditor = UserFactory(roles=[Role.AUDITOR])
    assert fresh(auditor).has_perm("audits.add_audit")

    group = Group.objects.get(name=Role.AUDITOR)
    group.permissions.remove(group.permissions.get(codename="add_audit"))

    assert not fresh(auditor).has_perm("audits.add_audit")


def test_a_user_made_superuser_or_deactivated_is_seen_at_once():
    requester = UserFactory(roles=[Role.REQUESTER])
    assert "audits.add_audit" not in fresh(requester).get_all_permissions()
    get_user_model().objects.filter(pk=requester.pk).update(is_superuser=True)
    assert "audits.add_audit" in fresh(requester).get_all_permissions()  # not the cached requester set
    get_user_model().objects.filter(pk=requester.pk).update(is_active=False)
    assert fresh(requester).get_all_permissions() == set()


def test_a_revocation_that_cannot_reach_the_cache_fails_loudly(settings):
    auditor = UserFactory(roles=[Role.AUDITOR])
    settings.CACHES = {"default": UNREACHABLE}

    with pytest.raises((RuntimeError, RedisError)):
        auditor.groups.remove(Group.objects.get(name=Role.AUDITOR))


def test_a_revocation_is_invalidated_again_after_commit(django_capture_on_commit_callbacks):
    auditor = UserFactory(roles=[Role.AUDITOR])
    with django_capture_on_commit_callbacks() as callbacks:
        auditor.groups.remove(Group.objects.get(name=Role.AUDITOR))
        # Meanwhile another process reads the rows committed so far (still granted) and caches them
        # under the version the first bump made.
        cached_user_fact(fresh(auditor), "group-perms", lambda: {"audits.add_audit"})
        assert fresh(auditor).has_perm("audits.add_audit")
    assert callbacks  # the post-commit bump

    for callback in callbacks:
        callback()
    assert not fresh(auditor).has_perm("audits.add_audit")


UNREACHABLE = {
    "BACKEND": "config.cache.ForgivingRedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",
    "OPTIONS": {"socket_connect_timeout": 0.2},
}


def test_an_unreachable_redis_is_a_miss_for_reads_and_writes_but_deletions_raise():
    from redis.exceptions import ConnectionError as RedisConnectionError

    cache = ForgivingRedisCache(UNREACHABLE["LOCATION"], {"OPTIONS": UNREACHABLE["OPTIONS"]})
    assert cache.get("key", "fallback") == "fallback"
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("key", 1) is False
    assert cache.set("key", 1) is None
    with pytest.raises(RedisConnectionError):  # an invalidation must not be skipped silently
        ForgivingRedisCache(UNREACHABLE["LOCATION"], {"OPTIONS": UNREACHABLE["OPTIONS"]}).delete("key")


def test_pages_work_when_the_cache_is_unreachable(client, settings):
    auditor = UserFactory(username="cache.down", roles=[Role.AUDITOR])
    settings.CACHES = {"default": UNREACHABLE}  # Django's test signals rebuild the cache handler
    client.force_login(auditor)

    response = client.get("/")

    assert response.status_code == 200
    assert response.wsgi_request.user.username == "cache.down"
