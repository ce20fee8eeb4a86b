"""Which requirements apply to a component, and whether recorded evidence passes a ``check``.

* ``condition`` (all-of): ``label_status`` / ``label_status_not``, ``payer_type`` /
  ``payer_type_not``, ``indication_category`` / ``indication_category_not``.
* ``check``: ``min_failed_trials`` + ``min_trial_weeks``, ``min_drug_classes`` (DOMAIN.md
  §1.6/§2.5), ``hard_contraindications`` (DOMAIN.md §1.4), ``decision_in``, ``form_in``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from modalities.specs import RequirementSpec
from modalities.vocab import LabelStatus, Timing
from plans.rules.readiness.facts import ComponentFacts

# ---------------------------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------------------------

_START_TIMINGS = (
    Timing.BEFORE_FIRST_SESSION,
    Timing.VALID_DURING_COURSE,
    Timing.BEFORE_EVERY_SESSION,
)
GATED_TIMINGS = frozenset(
    {*_START_TIMINGS, Timing.EVERY_N_SESSIONS, Timing.AFTER_MEDICATION_CHANGE}
)
"""Timings the check-in gate evaluates at a session (the rest are the flag scanner's)."""
RECHECKED_TIMINGS = frozenset({Timing.VALID_DURING_COURSE, Timing.BEFORE_EVERY_SESSION})
"""Timings whose validity window is re-checked on the day of every session."""


def _condition_facts(component: ComponentFacts) -> dict[str, str]:
    return {
        "label_status": component.label_status.value,
        "payer_type": component.payer_type.value,
        "indication_category": component.indication.category,
    }


def condition_applies(
    condition: Mapping[str, Iterable[str]], component: ComponentFacts
) -> tuple[bool, str]:
    """(applies, why) for a requirement condition (all-of). ``why`` is for ``applies_because``."""
    facts = _condition_facts(component)
    reasons: list[str] = []
    for key, values in condition.items():
        allowed = {str(v) for v in values}
        negated = key.endswith("_not")
        fact_name = key.removesuffix("_not")
        fact = facts[fact_name]
        if negated == (fact in allowed):
            return False, ""
        label = fact_name.replace("_", " ")
        if fact_name == "label_status" and fact == LabelStatus.OFF_LABEL and not negated:
            reasons.append("off-label indication")
        else:
            reasons.append(f"{label} {fact}")
    return True, ", ".join(reasons) or "protocol"


# ---------------------------------------------------------------------------------------------
# Checks on evidence data
# ---------------------------------------------------------------------------------------------

TRIAL_OUTCOMES = frozenset({"inadequate_response", "intolerance", "response"})
SAFETY_DECISIONS = frozenset({"cleared", "cleared_with_precautions", "not_cleared"})
FINANCIAL_FORMS = frozenset({"abn", "good_faith_estimate", "waiver_not_needed"})
MT_METHODS = frozenset({"visual", "emg"})
SAFETY_HARD_CONTRAINDICATION_FIELDS = ("magnetic_implant_within_30cm",)
"""Safety-screen fields naming a device-label hard contraindication (DOMAIN.md §1.4)."""
IFCN_ITEMS = tuple(f"q{i}" for i in range(1, 16))  # DOMAIN.md §1.4: IFCN 15-item questionnaire
DEFAULT_MIN_TRIAL_WEEKS = 6  # payer adequacy, DOMAIN.md §1.6 / §2.5 [PAYER]


def _failed_trials(data: Mapping[str, Any], min_weeks: int) -> list[Mapping[str, Any]]:
    trials = data.get("trials") if isinstance(data, Mapping) else None
    if not isinstance(trials, list):
        return []
    out = []
    for trial in trials:
        if not isinstance(trial, Mapping):
            continue
        weeks = trial.get("weeks")
        if (
            trial.get("outcome") in TRIAL_OUTCOMES - {"response"}
            and isinstance(weeks, int | float)
            and not isinstance(weeks, bool)
            and weeks >= min_weeks
        ):
            out.append(trial)
    return out


def count_failed_trials(
    data: Mapping[str, Any], *, min_weeks: int = DEFAULT_MIN_TRIAL_WEEKS
) -> int:
    """Failed adequate antidepressant trials: outcome is not 'response' and weeks ≥ ``min_weeks``.

    DOMAIN.md §1.6 Adequate trial [PAYER]; §2.5 (≥6 weeks at therapeutic dose) [PAYER].
    Malformed entries do not count.
    """
    return len(_failed_trials(data, min_weeks))


def drug_class_key(value: Any) -> str:
    """A drug class as compared: case and punctuation ignored ("SSRI" = "ssri" = "S.S.R.I.")."""
    return "".join(ch for ch in str(value).casefold() if ch.isalnum())


def count_failed_drug_classes(
    data: Mapping[str, Any], *, min_weeks: int = DEFAULT_MIN_TRIAL_WEEKS
) -> int:
    """Distinct drug classes among the failed adequate trials (two SSRIs count once).

    DOMAIN.md §1.6 Failed antidepressant trials: ≥2 adequate trials from ≥2 different classes
    [PAYER]; §2.5 nonresponse to ≥2 antidepressants from different classes [PAYER].
    """
    return len(
        {
            key
            for trial in _failed_trials(data, min_weeks)
            if (key := drug_class_key(trial.get("drug_class", "")))
        }
    )


def check_failure(req: RequirementSpec, data: Mapping[str, Any]) -> str | None:
    """Why the evidence fails the requirement's ``check``, or None when it passes."""
    check = req.check
    if "min_failed_trials" in check:
        need = int(check["min_failed_trials"])
        weeks = int(check.get("min_trial_weeks", DEFAULT_MIN_TRIAL_WEEKS))
        got = count_failed_trials(data, min_weeks=weeks)
        if got < need:
            noun = "trial" if got == 1 else "trials"
            return (
                f"only {got} failed antidepressant {noun} of ≥{weeks} weeks recorded; "
                f"{need} required"
            )
    if "min_drug_classes" in check:
        need = int(check["min_drug_classes"])
        weeks = int(check.get("min_trial_weeks", DEFAULT_MIN_TRIAL_WEEKS))
        got = count_failed_drug_classes(data, min_weeks=weeks)
        if got < need:
            noun = "class" if got == 1 else "classes"
            return (
                f"failed trials of ≥{weeks} weeks cover {got} drug {noun}; "
                f"{need} different classes required"
            )
    if "hard_contraindications" in check:
        present = [name for name in check["hard_contraindications"] if data.get(name) is True]
        if present:
            return (
                "hard contraindication recorded ("
                + ", ".join(name.replace("_", " ") for name in present)
                + "); the screen cannot clear stimulation whatever its decision"
            )
    if "decision_in" in check:
        decision = data.get("decision")
        if decision not in check["decision_in"]:
            return (
                f"safety screen decision is {decision!r}; "
                f"needs one of {', '.join(check['decision_in'])}"
            )
    if "form_in" in check:
        form = data.get("form")
        if form not in check["form_in"]:
            return f"financial acknowledgment form is {form!r}; needs {', '.join(check['form_in'])}"
    return None
