"""factory_boy factories for the leaves of the model graph (STYLE.md habit 10).

State with rules (plans, components, sessions, evaluations) is built through the services, so
tests exercise the same paths as the API; these factories only make the things services take.
All people are synthetic: example.com addresses, +1-555-01xx numbers.
"""

from __future__ import annotations

from datetime import date, time

import factory

from backend.accounts.models import Credential, Organization, Role, User
from scheduling.models import Clinic, ClinicHours


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Test Organisation {n}")
    slug = factory.Sequence(lambda n: f"test-org-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = Role.COORDINATOR
    credential = ""
    organization = factory.SubFactory(OrganizationFactory)
    password = factory.PostGenerationMethodCall("set_password", "test-password-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CoordinatorFactory(UserFactory):
    role = Role.COORDINATOR


class ClinicianFactory(UserFactory):
    role = Role.CLINICIAN
    credential = Credential.PSYCHIATRIST


class TechnicianFactory(UserFactory):
    role = Role.CLINICIAN
    credential = Credential.TECHNICIAN


class PatientUserFactory(UserFactory):
    role = Role.PATIENT


class AdminFactory(UserFactory):
    role = Role.ADMIN
    organization = None
    is_staff = True
    is_superuser = True


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Test Clinic {n}")
    timezone = "America/New_York"
    phone = "+15555550142"
    address = "1 Example Street, Springfield"
    subdivision = "NY"
    reminder_offsets_minutes = factory.LazyFunction(lambda: [24 * 60])
    rems_certification_id = ""
    rems_certified_until = None

    @factory.post_generation
    def weekday_hours(obj, create, extracted, **kwargs):
        """Mon–Fri 08:00–18:00 unless ``weekday_hours=False``."""
        if create and extracted is not False:
            ClinicHours.objects.bulk_create(
                ClinicHours(clinic=obj, weekday=d, opens=time(8), closes=time(18)) for d in range(5)
            )


def rems_certified(clinic: Clinic, until: date = date(2030, 12, 31)) -> Clinic:
    clinic.rems_certification_id = "REMS-TEST-0001"
    clinic.rems_certified_until = until
    clinic.save(update_fields=["rems_certification_id", "rems_certified_until"])
    return clinic
