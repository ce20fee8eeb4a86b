"""Plans services: flags (idempotent, concurrent, never lowered), readiness sync, selectors'
constant query count, the demo seed's idempotence."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backend.errors import InvalidInput
from modalities.models import Protocol
from plans import services
from plans.demo import seed_scenario
from plans.flag_codes import FlagCode
from plans.models import CarePlan, Flag, FlagStatus, Patient
from plans.selectors import get_component_readiness, get_plan_readiness

pytestmark = pytest.mark.django_db


def test_open_or_escalate_is_idempotent_and_only_raises_severity(demo_world):
    plan = demo_world["plan"]
    kwargs = {"plan": plan, "code": FlagCode.NO_SHOW_STREAK, "requirement_key": "x"}
    first, created = services.open_or_escalate_flag(severity="warning", message="a", **kwargs)
    assert created
    same, created = services.open_or_escalate_flag(severity="critical", message="b", **kwargs)
    assert not created
    assert same.pk == first.pk
    assert same.severity == "critical"
    lower, _ = services.open_or_escalate_flag(severity="info", message="c", **kwargs)
    lower.refresh_from_db()
    assert lower.severity == "critical"  # never lowered
    assert Flag.objects.filter(status="open", code=FlagCode.NO_SHOW_STREAK).count() == 1


def test_readiness_sync_resolves_closed_gaps_and_expires(demo_world):
    plan = demo_world["plan"]
    coordinator = demo_world["users"]["coordinator"]
    key_of = {c.protocol.code: c.pk for c in plan.components.select_related("protocol")}
    spr = key_of["spravato_trd"]
    gap = {
        "plan": plan,
        "code": FlagCode.REQUIREMENT_MISSING,
        "requirement_key": f"{spr}:transport_plan",
    }
    assert Flag.objects.filter(**gap, status="open").exists()
    services.record_evaluation(
        patient=plan.patient,
        by=coordinator,
        plan=plan,
        component=plan.components.get(pk=spr),
        kind="transport_plan",
        performed_at=timezone.now(),
    )
    assert not Flag.objects.filter(**gap, status="open").exists()
    assert Flag.objects.filter(**gap, status="resolved").exists()
    # an old safety screen is *expired* (validity 30 days), not missing
    tms = plan.components.get(protocol__code="tms_hf_lm1_fibromyalgia")
    services.record_evaluation(
        patient=plan.patient,
        by=coordinator,
        component=tms,
        kind="tms_safety_screen",
        performed_at=timezone.now() - timezone.timedelta(days=45),
        data={
            "answers": {f"q{i}": False for i in range(1, 16)},
            "decision": "cleared",
            "physician": "Dr. Example",
        },
    )
    expired = Flag.objects.get(
        plan=plan, status="open", requirement_key=f"{tms.pk}:tms_safety_screen"
    )
    assert expired.code == FlagCode.REQUIREMENT_EXPIRED
    assert expired.severity == "blocking"


def test_readiness_selectors_use_a_constant_number_of_queries(
    demo_world, django_assert_num_queries
):
    from modalities import spec_cache

    plan = CarePlan.objects.select_related("clinic").get(pk=demo_world["plan"].pk)
    # components (+ protocol, indication, prior authorisations, course sessions: one query,
    # plans.detail_reads) · evaluations · measures; the clinic is already joined, and the
    # protocols' specs are cached (modalities.spec_cache, filled while demo_world was built)
    with django_assert_num_queries(3):
        readiness = get_plan_readiness(plan=plan)
    assert len(readiness.components) == 3
    component = plan.components.first()
    # components (+ protocol, indication, plan, clinic) · prior authorisations · course
    # sessions · evaluations · measures
    with django_assert_num_queries(5):
        get_component_readiness(component=component)
    # a process that has not met these protocol revisions yet reads them once: their
    # indications and requirement specs (2, however many protocols), then never again
    spec_cache.clear()
    with django_assert_num_queries(3 + 2):
        get_plan_readiness(plan=plan)
    with django_assert_num_queries(3):
        get_plan_readiness(plan=plan)


def test_failing_component_leaves_no_plan(demo_world):
    spr = Protocol.objects.get(code="spravato_trd")
    tms = Protocol.objects.get(code="tms_10hz_ldlpfc_mdd")
    before = CarePlan.objects.count()
    with pytest.raises(InvalidInput) as err:
        services.create_plan(
            patient=demo_world["patient"],
            clinic=demo_world["clinic"],
            by=demo_world["users"]["coordinator"],
            title="x",
            components=[
                {
                    "protocol": spr,
                    "indication": spr.indications.first(),
                    "payer_type": "commercial",
                },
                {
                    "protocol": spr,
                    "indication": tms.indications.first(),
                    "payer_type": "commercial",
                },
            ],
        )
    assert err.value.code == "indication_not_in_protocol"
    assert CarePlan.objects.count() == before


def test_demo_seed_is_idempotent(demo_world):
    counts = (Patient.objects.count(), CarePlan.objects.count(), Flag.objects.count())
    seed_scenario(
        organization=demo_world["organization"],
        clinic=demo_world["clinic"],
        users=demo_world["users"],
    )
    assert (Patient.objects.count(), CarePlan.objects.count(), Flag.objects.count()) == counts
    patient = demo_world["patient"]
    assert patient.user == demo_world["users"]["patient"]
    team = set(patient.team_members.values_list("user_id", flat=True))
    assert team == {demo_world["users"]["psychiatrist"].pk, demo_world["users"]["technician"].pk}
    tms = demo_world["plan"].components.get(protocol__code="tms_hf_lm1_fibromyalgia")
    assert (tms.label_status, tms.payer_type) == ("off_label", "self_pay")
    open_codes = set(
        Flag.objects.filter(plan=demo_world["plan"], status=FlagStatus.OPEN).values_list(
            "code", flat=True
        )
    )
    assert open_codes == {FlagCode.REQUIREMENT_MISSING, FlagCode.COMBINATION_REVIEW}


def test_an_evening_evaluation_is_dated_on_the_patients_calendar(demo_world):
    # given a step done at 21:30 in New York (the patient's zone) — 02:30 UTC the next day —
    # valid through that same local day
    from zoneinfo import ZoneInfo

    plan = demo_world["plan"]
    assert plan.patient.timezone == "America/New_York"
    local = timezone.now().astimezone(ZoneInfo("America/New_York")) - timezone.timedelta(days=1)
    evening = local.replace(hour=21, minute=30, second=0, microsecond=0)
    performed_at = evening.astimezone(ZoneInfo("UTC"))  # as the API hands it over
    assert performed_at.date() > evening.date()
    # when it is recorded, then it is accepted: it does not "expire before it was recorded"
    evaluation = services.record_evaluation(
        patient=plan.patient,
        by=demo_world["users"]["coordinator"],
        plan=plan,
        kind="transport_plan",
        performed_at=performed_at,
        valid_until=evening.date(),
    )
    assert evaluation.valid_until == evening.date()
    # and the day before it is still refused
    with pytest.raises(InvalidInput) as refused:
        services.record_evaluation(
            patient=plan.patient,
            by=demo_world["users"]["coordinator"],
            plan=plan,
            kind="transport_plan",
            performed_at=performed_at,
            valid_until=evening.date() - timezone.timedelta(days=1),
        )
    assert refused.value.fields == {"valid_until": ["before performed_at"]}
