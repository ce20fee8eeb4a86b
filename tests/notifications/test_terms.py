"""The one list of terms never sent to a patient (DOMAIN.md §7.2; DESIGN.md §4 promise 5)."""

from __future__ import annotations

import pytest

from notifications.terms import contains_forbidden_term


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Spain office", None),
        ("painting class", None),
        ("Paine St", None),
        ("ATMs nearby", None),
        ("Saint Mary's Plaza", None),
        ("Pain Clinic", "pain"),
        ("painful", "pain"),
        ("esketamine", "esketamin"),
        ("KETAMINE", "ketamin"),
        ("rTMS", "tms"),  # camelCase split: "r TMS"
        ("TMSClinic", "tms"),
        ("Neuro-Feedback", None),
        ("neurofeedback", "neurofeedback"),
        ("Depressive episode", "depress"),
        ("qEEG map", "eeg"),
        ("REMS form", "rems"),
        ("Psychiatric Associates", "psychiatr"),
    ],
)
def test_forbidden_term_matching(text: str, term: str | None) -> None:
    assert contains_forbidden_term(text) == term


# Every term of the two lists that existed before issue 16 (the reminder list and the catalogue's
# FORBIDDEN_PATIENT_TERMS) stays forbidden in the one list.
FORMER_CATALOGUE_TERMS = [
    "spravato",
    "esketamine",
    "ketamine",
    "ketalar",
    "antidepressant",
    "tms",
    "rtms",
    "itbs",
    "dtms",
    "theta burst",
    "magnetic",
    "stimulation",
    "stimulator",
    "neuromodulation",
    "neurostar",
    "brainsway",
    "neurofeedback",
    "biofeedback",
    "qeeg",
    "eeg",
    "electroconvulsive",
    "infusion",
    "rems",
    "esketamin",
    "depression",
    "depressive",
    "depressed",
    "suicid",
    "self-harm",
    "ocd",
    "obsessive",
    "compulsive",
    "fibromyalgia",
    "crps",
    "neuropath",
    "neuralgia",
    "pain",
    "psychiatr",
    "psycho",
    "mental",
    "anxiety",
    "bipolar",
    "schizo",
    "dissociat",
    "mdd",
    "trd",
    "ptsd",
    "addiction",
]
FORMER_REMINDER_TERMS = [
    "spravato",
    "esketamin",
    "ketamin",
    "ketalar",
    "neurostar",
    "brainsway",
    "magventure",
    "magstim",
    "transcranial",
    "stimulat",
    "neuromodulat",
    "neurofeedback",
    "biofeedback",
    "electroconvuls",
    "theta burst",
    "anesthe",
    "anaesthe",
    "psychiatr",
    "mental health",
    "behavioral health",
    "behavioural health",
    "controlled substance",
    "depress",
    "suicid",
    "psychos",
    "psychotic",
    "obsessive",
    "compulsive",
    "schizo",
    "bipolar",
    "dissociat",
    "fibromyalg",
    "neuropath",
    "magnetic",
    "infus",
    "sedat",
    "opioid",
    "addict",
    "anxiet",
    "migrain",
    "pain",
    "tms",
    "rtms",
    "dtms",
    "itbs",
    "ect",
    "eeg",
    "qeeg",
    "rems",
    "nasal",
    "ciii",
    "mdd",
    "trd",
    "ocd",
    "ptsd",
    "crps",
    "phq",
]


@pytest.mark.parametrize("term", sorted(set(FORMER_CATALOGUE_TERMS + FORMER_REMINDER_TERMS)))
def test_every_term_of_both_former_lists_stays_forbidden(term: str) -> None:
    assert contains_forbidden_term(term) is not None
    assert contains_forbidden_term(f"Your {term.upper()} visit") is not None


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("Self harm support", "self-harm"),
        ("self_harm", "self-harm"),
        ("Psychology Building", "psycho"),
        ("Mental Wellness", "mental"),
        ("Environmental Sciences Hall", None),
        ("Trigeminal neuralgia", "neuralgia"),
        ("tmsclinic", "tms"),  # an acronym is refused at the start of a word (catalogue rule)
    ],
)
def test_terms_added_from_the_catalogue_list(text: str, term: str | None) -> None:
    assert contains_forbidden_term(text) == term
