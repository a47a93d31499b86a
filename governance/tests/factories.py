import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from governance.models import (
    AISystem,
    AuditTeam,
    AuditTeamMembership,
    CommitteeMembership,
    Department,
    IRBCommittee,
    Role,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@hospital.test")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery-staple")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                self.groups.add(Group.objects.get(name=Role(role).value))
        if create:
            self.save()


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"dept-{n}")
    name_en = factory.Sequence(lambda n: f"Department {n}")
    name_zh = factory.Sequence(lambda n: f"科室{n}")


class AuditTeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditTeam

    name = factory.Sequence(lambda n: f"Audit team {n}")
    group = factory.LazyAttribute(lambda team: Group.objects.create(name=f"team:{team.name}"))


class AuditTeamMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditTeamMembership

    team = factory.SubFactory(AuditTeamFactory)
    user = factory.SubFactory(UserFactory, roles=[Role.AUDITOR])
    role = AuditTeamMembership.TeamRole.LEAD


class IRBCommitteeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IRBCommittee

    name = factory.Sequence(lambda n: f"IRB {n}")
    group = factory.LazyAttribute(lambda committee: Group.objects.create(name=f"committee:{committee.name}"))


class CommitteeMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommitteeMembership

    committee = factory.SubFactory(IRBCommitteeFactory)
    user = factory.SubFactory(UserFactory, roles=[Role.IRB_MEMBER])
    role = CommitteeMembership.CommitteeRole.MEMBER


class AISystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AISystem

    name = factory.Sequence(lambda n: f"Clinical assistant {n}")
    vendor = "Acme Health AI"
    model_name = "acme-med-7b"
    model_version = "1.0"
    intended_use = "Drafting discharge summaries for review by the treating physician."
    owner_department = factory.SubFactory(DepartmentFactory)
    owner = factory.SubFactory(UserFactory, roles=[Role.REQUESTER])
