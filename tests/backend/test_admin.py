"""The Django admin: a platform admin lists and searches patients, plans, sessions, clinics,
flags and reminders, read-only; nobody else sees them; every patient-data read is audited."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backend.audit.models import AuditEvent
from plans.models import CarePlan, Flag, Patient
from scheduling.demo_foundation import seed_all
from scheduling.models import Clinic, Reminder, Session
from scheduling.models.reminders import ReminderKind
from scheduling.reminders import sync_reminders_for_sessions
from tests import factories

pytestmark = pytest.mark.django_db

MODELS = [Patient, CarePlan, Session, Clinic, Flag, Reminder]


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _search_term(obj) -> str:
    """A search term that finds ``obj`` through its admin's search_fields."""
    patient = {
        Patient: lambda: obj,
        CarePlan: lambda: obj.patient,
        Session: lambda: obj.patient,
        Reminder: lambda: obj.patient,
        Flag: lambda: obj.plan.patient,
    }.get(type(obj))
    return patient().mrn if patient else obj.name


@pytest.fixture
def world(catalogue):
    """The demo data (organisation, clinic, logins, plans, booked courses), reminder rows, two
    open flags and a second clinic, so that every admin has at least two rows."""
    data = seed_all()
    sync_reminders_for_sessions(session_ids=list(Session.objects.values_list("pk", flat=True)))
    for session in Session.objects.order_by("starts_at")[:2]:  # the demo patients have no
        Reminder.objects.get_or_create(  # reminder consent, so the sync plans none
            key=f"admin-test:{session.pk}",
            defaults={
                "patient": session.patient,
                "session": session,
                "channel": "email",
                "kind": ReminderKind.REMINDER,
                "due_at": session.starts_at,
            },
        )
    plan = data["plans"]["plan"]
    for code in ("admin_test_gap", "admin_test_other_gap"):
        Flag.objects.create(plan=plan, code=code, severity="warning", message="gap")
    factories.ClinicFactory(organization=data["organization"])  # a second site
    return data


@pytest.fixture
def admin_client(client, world):
    client.force_login(factories.AdminFactory())
    return client


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_platform_admin_lists_searches_and_opens_each_model_but_never_writes(admin_client, model):
    # given rows of the model and the search term of one of them
    obj = model.objects.order_by("pk").first()
    assert obj is not None
    model_admin = admin.site.get_model_admin(model)
    assert model_admin.search_fields
    assert model_admin.list_filter
    # when the admin opens the changelist with that search
    response = admin_client.get(_url(model, "changelist"), {"q": _search_term(obj)})
    # then it lists the row, with search and filters, and offers no add or delete
    assert response.status_code == 200
    cl = response.context["cl"]
    assert obj.pk in {o.pk for o in cl.result_list}
    assert cl.has_filters
    assert response.context["has_add_permission"] is False
    assert "delete_selected" not in model_admin.get_actions(response.wsgi_request)
    before = model.objects.count()
    # when the admin opens the row, then it is shown without a save button
    detail = admin_client.get(_url(model, "change", obj.pk))
    assert detail.status_code == 200
    assert detail.context["has_change_permission"] is False
    assert b'name="_save"' not in detail.content
    # and add, change and delete are refused
    assert admin_client.get(_url(model, "add")).status_code == 403
    assert admin_client.post(_url(model, "change", obj.pk), {}).status_code == 403
    assert admin_client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    admin_client.post(
        _url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert model.objects.count() == before


def test_a_staff_coordinator_does_not_see_the_admin_lists(client, world):
    # given a coordinator who was (wrongly) marked staff
    client.force_login(
        factories.CoordinatorFactory(organization=world["organization"], is_staff=True)
    )
    index = client.get(reverse("admin:index"))
    for model in MODELS:
        # when / then each changelist is refused and the index does not offer it
        assert client.get(_url(model, "changelist")).status_code == 403
        assert _url(model, "changelist").encode() not in index.content


def test_anonymous_is_sent_to_the_admin_login(client, world):
    response = client.get(_url(Patient, "changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_admin_reads_of_patient_data_are_audited(admin_client, world):
    # given a patient
    patient = world["plans"]["patient"]
    AuditEvent.objects.all().delete()
    # when the admin lists patients and opens the patient
    admin_client.get(_url(Patient, "changelist"))
    admin_client.get(_url(Patient, "change", patient.pk))
    # then each read is one audit event naming the patient
    listed, opened = AuditEvent.objects.order_by("id")
    assert (listed.action, listed.object_type) == ("read", "plans.patient")
    assert patient.pk in listed.detail["patient_ids"]
    assert (opened.object_id, opened.patient_id) == (str(patient.pk), patient.pk)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_queries_do_not_grow_with_the_rows_shown(admin_client, monkeypatch, model):
    # given the same changelist showing one row per page, then every row on one page
    model_admin = admin.site.get_model_admin(model)
    assert model.objects.count() >= 2, "needs at least two rows to compare"

    def queries(per_page: int) -> int:
        monkeypatch.setattr(model_admin, "list_per_page", per_page)
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(_url(model, "changelist")).status_code == 200
        return len(ctx.captured_queries)

    # then the number of queries is the same: session, user, count, the page (FK columns
    # joined through list_select_related), the filters' choices and the audit insert
    assert queries(1) == queries(500)
