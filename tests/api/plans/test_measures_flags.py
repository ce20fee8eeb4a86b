"""Plans API acceptance (issue 3), parts 3–4: measure validation, response/remission against
the baseline, safety flags."""

from __future__ import annotations

import datetime as dt

import pytest

from plans.flag_codes import FlagCode
from plans.models import Flag
from tests.api.plans.helpers import API, NOW, ok

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("instrument", "answers", "bad_field"),
    [
        ("phq9", {f"q{i}": 1 for i in range(1, 9)}, "q9"),  # missing item
        ("phq9", {f"q{i}": 1 for i in range(1, 10)} | {"q4": 4}, "q4"),  # out of range
        ("gad7", {f"q{i}": 1 for i in range(1, 7)}, "q7"),
        ("gad7", {f"q{i}": 0 for i in range(1, 8)} | {"q2": -1}, "q2"),
    ],
)
def test_bad_item_is_a_400_naming_the_field(client_for, demo_world, instrument, answers, bad_field):
    response = client_for(demo_world["users"]["psychiatrist"]).post(
        f"{API}/measures/",
        {
            "patient": demo_world["patient"].pk,
            "plan": demo_world["plan"].pk,
            "instrument": instrument,
            "answers": answers,
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_answers"
    assert list(body["fields"]["answers"]) == [bad_field]


def test_response_and_remission_against_the_baseline(client_for, demo_world):
    client = client_for(demo_world["users"]["psychiatrist"])
    base = {
        "patient": demo_world["patient"].pk,
        "plan": demo_world["plan"].pk,
        "instrument": "phq9",
    }

    def phq9(total: int, day: int) -> dict:
        answers = {f"q{i}": 0 for i in range(1, 10)}
        for i in range(total):
            answers[f"q{(i % 8) + 1}"] += 1  # item 9 stays 0
        taken = (NOW - dt.timedelta(days=30 - day)).isoformat()
        return ok(
            client.post(f"{API}/measures/", {**base, "answers": answers, "taken_at": taken}), 201
        )

    first = phq9(20, 0)
    assert first["is_baseline"] is True
    assert first["band"] == "severe"
    assert first["change"] is None
    partial = phq9(12, 7)  # 40 % drop: neither
    assert partial["is_baseline"] is False
    assert partial["baseline"]["id"] == first["id"]
    assert (partial["response"], partial["remission"]) == (False, False)
    halved = phq9(10, 14)  # exactly 50 %: response
    assert (halved["response"], halved["remission"]) == (True, False)
    remitted = phq9(4, 21)
    assert (remitted["response"], remitted["remission"]) == (True, True)
    assert remitted["change"]["change"] == -16
    assert remitted["band"] == "minimal"
    # plan detail shows the latest PHQ-9 with its baseline and change
    detail = ok(client.get(f"{API}/plans/{demo_world['plan'].pk}/"))
    latest = {m["instrument"]: m for m in detail["latest_measures"]}
    assert latest["phq9"]["latest"]["id"] == remitted["id"]
    assert latest["phq9"]["baseline"]["id"] == first["id"]
    assert latest["phq9"]["change"]["remission"] is True


def test_phq9_item9_raises_one_critical_flag_in_the_same_request(client_for, demo_world):
    plan = demo_world["plan"]
    client = client_for(demo_world["users"]["nurse"])  # not on the team → 404
    payload = {
        "patient": demo_world["patient"].pk,
        "plan": plan.pk,
        "instrument": "phq9",
        "answers": {f"q{i}": 0 for i in range(1, 9)} | {"q9": 1},
    }
    assert client.post(f"{API}/measures/", payload).status_code == 404
    client = client_for(demo_world["users"]["psychiatrist"])
    body = ok(client.post(f"{API}/measures/", payload), 201)
    assert body["safety_alert"] is True
    flags = Flag.objects.filter(plan=plan, code=FlagCode.SAFETY_PHQ9_ITEM9, status="open")
    assert [f.severity for f in flags] == ["critical"]
    # repeating it does not open a second flag
    ok(client.post(f"{API}/measures/", payload), 201)
    assert flags.count() == 1
    listed = ok(client.get(f"{API}/flags/", {"plan": plan.pk, "severity": "critical"}))
    assert [f["code"] for f in listed["results"]] == ["safety_phq9_item9"]


def test_cssrs_high_risk_raises_a_critical_flag(client_for, demo_world):
    client = client_for(demo_world["users"]["psychiatrist"])
    ok(
        client.post(
            f"{API}/measures/",
            {
                "patient": demo_world["patient"].pk,
                "plan": demo_world["plan"].pk,
                "instrument": "cssrs_screener",
                "answers": {
                    "q1": True,
                    "q2": True,
                    "q3": True,
                    "q4": True,
                    "q5": False,
                    "q6": False,
                },
            },
        ),
        201,
    )
    flag = Flag.objects.get(plan=demo_world["plan"], code=FlagCode.SAFETY_CSSRS_HIGH_RISK)
    assert flag.severity == "critical"
    assert flag.status == "open"


def test_dismiss_flag_needs_a_reason(client_for, demo_world):
    client = client_for(demo_world["users"]["psychiatrist"])
    flag = Flag.objects.filter(plan=demo_world["plan"], status="open").first()
    response = client.post(f"{API}/flags/{flag.pk}/dismiss/", {"reason": " "})
    assert response.status_code == 400
    assert response.json()["code"] == "reason_required"
    body = ok(client.post(f"{API}/flags/{flag.pk}/dismiss/", {"reason": "covered elsewhere"}))
    assert body["status"] == "dismissed"
    assert body["dismiss_reason"] == "covered elsewhere"
    again = client.post(f"{API}/flags/{flag.pk}/dismiss/", {"reason": "twice"})
    assert again.status_code == 409
    assert again.json()["code"] == "flag_not_open"
