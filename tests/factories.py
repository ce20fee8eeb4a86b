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


def latest_protocol(code: str):
    """The stored catalogue protocol ``code`` (latest version)."""
    from modalities.models import Protocol

    return Protocol.objects.filter(code=code).order_by("-version").first()


def make_active_component(*, patient, clinic, code: str, coordinator=None, **extra):
    """An active plan with one active component of protocol ``code`` (first indication,
    commercial payer unless ``extra`` says otherwise) — a leaf for scheduling and worker tests
    that need a course without walking the plan services."""
    from plans.models import CarePlan, PlanComponent

    proto = latest_protocol(code)
    plan = CarePlan.objects.create(
        patient=patient,
        organization_id=patient.organization_id,
        clinic=clinic,
        title=f"Plan {code}",
        diagnoses=["F33.2"],
        status="active",
        coordinator=coordinator,
    )
    indication = proto.indications.first()
    legacy = {k: extra.pop(k) for k in list(extra) if k.startswith("prior_auth_")}
    fields = {"payer_type": "commercial", **extra}
    component = PlanComponent.objects.create(
        plan=plan,
        protocol=proto,
        indication=indication,
        label_status=indication.label_status,
        target=proto.target,
        status="active",
        **fields,
    )
    if legacy.get("prior_auth_number") or legacy.get("prior_auth_sessions"):
        # the old component fields are an approved authorisation record now (issue 11)
        from plans.models import PriorAuthorization

        PriorAuthorization.objects.create(
            component=component,
            number=legacy.get("prior_auth_number") or "PA-1",
            authorized_units=legacy.get("prior_auth_sessions"),
            ends_on=legacy.get("prior_auth_expires_on"),
            status="approved",
        )
    return component


# Evaluation data: two adequate (8-week) antidepressant trials without response — what payers
# and the SPRAVATO TRD label ask for (DOMAIN.md §1.6, §2.1).
TWO_FAILED_TRIALS = {
    "trials": [
        {
            "drug": "sertraline",
            "drug_class": "SSRI",
            "max_dose_mg": 200,
            "weeks": 8,
            "outcome": "inadequate_response",
        },
        {
            "drug": "bupropion",
            "drug_class": "NDRI",
            "max_dose_mg": 450,
            "weeks": 8,
            "outcome": "inadequate_response",
        },
    ]
}


class PatientFactory(factory.django.DjangoModelFactory):
    """A synthetic patient (example.com email, +1-555-01xx phone) — a leaf for report tests."""

    class Meta:
        model = "plans.Patient"
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    mrn = factory.Sequence(lambda n: f"P{n:05d}")
    given_name = "Sam"
    family_name = factory.Sequence(lambda n: f"Example{n}")
    birth_date = date(1980, 5, 17)
    phone = "+15555550123"
    email = factory.LazyAttribute(lambda o: f"{o.mrn.lower()}@example.com")
    timezone = "America/New_York"
