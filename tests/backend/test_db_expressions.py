"""``backend.db.expressions.AnyOf``: the rows of ``__in``, with the list as one parameter."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.db.expressions import AnyOf
from plans.models import Flag
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def flags(catalogue, organization, clinic):
    patient = factories.PatientFactory(organization=organization)
    plan = factories.make_active_component(
        patient=patient, clinic=clinic, code="psychiatric_follow_up"
    ).plan
    return [
        Flag.objects.create(
            patient=patient,
            plan=plan if i % 3 else None,
            code="REQUIREMENT_MISSING",
            requirement_key=f"k{i}",
            severity="warning",
            message="m",
        )
        for i in range(12)
    ]


def test_one_array_parameter_instead_of_one_placeholder_per_value(flags):
    ids = [f.pk for f in flags]
    with CaptureQueriesContext(connection) as queries:
        assert sorted(Flag.objects.filter(AnyOf("id", ids)).values_list("id", flat=True)) == ids
    (sql,) = [q["sql"] for q in queries.captured_queries]
    assert '"plans_flag"."id" = ANY(' in sql
    assert " IN (" not in sql


# the flags are only read: one set serves every example
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(picks=st.lists(st.integers(min_value=0, max_value=14), max_size=14), bound=st.booleans())
def test_the_same_rows_as_in_alone_or_combined(flags, picks, bound):
    # ids of existing flags, the plan's id and ids that exist nowhere, duplicates included;
    # on the primary key and on a nullable foreign key (plan_id)
    pool = [f.pk for f in flags] + [flags[1].plan_id, 10**9, 10**9 + 1]
    ids = [pool[i] for i in picks]
    extra = Q(severity="warning") if bound else Q()
    for column in ("id", "plan_id"):
        ours = Flag.objects.filter(Q(AnyOf(column, ids)) & extra)
        theirs = Flag.objects.filter(Q(**{f"{column}__in": ids}) & extra)
        assert sorted(ours.values_list("id", flat=True)) == sorted(
            theirs.values_list("id", flat=True)
        )
    assert Flag.objects.filter(AnyOf("id", [])).count() == 0
