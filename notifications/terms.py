"""The one list of terms never sent to a patient, and the matcher every patient text goes through.

HIPAA (DOMAIN.md §7.2; HHS FAQ 198, OCR FAQ 570): limit PHI in unencrypted SMS, voicemail and
e-mail — never a drug, diagnosis or treatment name. DESIGN.md §4 promise 5. Used by reminder
rendering (scheduling), the calendar feed, and the catalogue validator for patient-facing
preparation text (modalities). Pure: stdlib only.

The list is the union of the two lists that existed before (issue 16): the reminder list and the
catalogue's ``FORBIDDEN_PATIENT_TERMS``. Every term of either stays forbidden; where both had a
term, it keeps the stricter matching mode that both test suites allow (an acronym matches at
the start of a word, so ``tmsx`` is refused as the catalogue refused it), except ``pain``, which
stays a whole word ('Spain', 'painting', 'Paine St' pass) as the reminder tests require.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal


@dataclass(frozen=True, slots=True)
class ForbiddenTerm:
    term: str
    match: Literal["anywhere", "word_start", "word"]
    why: str


_DRUG = "drug/brand name reveals treatment (HHS FAQ 198, DOMAIN.md §7.2)"
_MODALITY = "treatment/modality name (DESIGN.md §4 promise 5)"
_DIAGNOSIS = "diagnosis or condition (DOMAIN.md §7.2: omit diagnosis from SMS/voicemail)"
_SPECIALTY = "reveals a psychiatric/behavioural practice (DOMAIN.md §7.2 [WEAK] revealing name)"

# Matching modes, chosen per term to avoid false alarms on everyday words and place names:
# - "anywhere": long distinctive stems that do not occur inside innocent words; also catches
#   brand-style concatenations ("KetaMind", "SpravatoCare").
# - "word_start": stems that must begin a word (``magnetic`` but not "electromagnetism" prose).
# - "word": short acronyms and common words, whole word only: 'pain' matches "Pain Clinic" but not
#   "Spain", "painting" or "Paine St"; 'tms' matches "SuccessTMS" because camelCase is split
#   before matching, but not "ATMs".
# - separators inside a term ("self-harm") match any run of spaces, hyphens or underscores.
# Deliberately NOT listed: "saint" (SAINT protocol, but also "Saint Mary's"), "iv" (Suite IV),
# "spray", "mood", "gad" (a name) — their context words are caught instead.
FORBIDDEN_TERMS: tuple[ForbiddenTerm, ...] = (
    ForbiddenTerm("spravato", "anywhere", _DRUG),
    ForbiddenTerm("esketamin", "anywhere", _DRUG),
    ForbiddenTerm("ketamin", "anywhere", _DRUG),
    ForbiddenTerm("ketalar", "anywhere", _DRUG),
    ForbiddenTerm("neurostar", "anywhere", "TMS device brand"),
    ForbiddenTerm("brainsway", "anywhere", "TMS device brand"),
    ForbiddenTerm("magventure", "anywhere", "TMS device brand"),
    ForbiddenTerm("magstim", "anywhere", "TMS device brand"),
    ForbiddenTerm("transcranial", "anywhere", _MODALITY),
    ForbiddenTerm("stimulat", "anywhere", _MODALITY),
    ForbiddenTerm("neuromodulat", "anywhere", _MODALITY),
    ForbiddenTerm("neurofeedback", "anywhere", _MODALITY),
    ForbiddenTerm("biofeedback", "anywhere", _MODALITY),
    ForbiddenTerm("electroconvuls", "anywhere", _MODALITY),
    ForbiddenTerm("theta burst", "anywhere", _MODALITY),
    ForbiddenTerm("anesthe", "anywhere", _MODALITY),
    ForbiddenTerm("anaesthe", "anywhere", _MODALITY),
    ForbiddenTerm("psychiatr", "anywhere", _SPECIALTY),
    ForbiddenTerm("mental health", "anywhere", _SPECIALTY),
    ForbiddenTerm("behavioral health", "anywhere", _SPECIALTY),
    ForbiddenTerm("behavioural health", "anywhere", _SPECIALTY),
    ForbiddenTerm("controlled substance", "anywhere", _DRUG),
    ForbiddenTerm("depress", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("suicid", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("psychos", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("psychotic", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("obsessive", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("compulsive", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("schizo", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("bipolar", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("dissociat", "anywhere", _DIAGNOSIS + "; SPRAVATO side effect"),
    ForbiddenTerm("fibromyalg", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("neuropath", "anywhere", _DIAGNOSIS),
    ForbiddenTerm("magnetic", "word_start", _MODALITY),
    ForbiddenTerm("infus", "word_start", _MODALITY),
    ForbiddenTerm("sedat", "word_start", _MODALITY),
    ForbiddenTerm("opioid", "word_start", _DRUG),
    ForbiddenTerm("addict", "word_start", _DIAGNOSIS),
    ForbiddenTerm("anxiet", "word_start", _DIAGNOSIS),
    ForbiddenTerm("migrain", "word_start", _DIAGNOSIS),
    ForbiddenTerm("pain", "word", _DIAGNOSIS + "; also 'pains', 'painful'"),
    ForbiddenTerm("tms", "word_start", _MODALITY),
    ForbiddenTerm("rtms", "word_start", _MODALITY),
    ForbiddenTerm("dtms", "word_start", _MODALITY),
    ForbiddenTerm("itbs", "word_start", _MODALITY),
    ForbiddenTerm("ect", "word", _MODALITY),
    ForbiddenTerm("eeg", "word_start", _MODALITY),
    ForbiddenTerm("qeeg", "word_start", _MODALITY),
    ForbiddenTerm("rems", "word_start", _DRUG + "; SPRAVATO REMS"),
    ForbiddenTerm("nasal", "word", _DRUG + "; nasal spray"),
    ForbiddenTerm("ciii", "word", _DRUG + "; schedule III"),
    ForbiddenTerm("mdd", "word_start", _DIAGNOSIS),
    ForbiddenTerm("trd", "word_start", _DIAGNOSIS),
    ForbiddenTerm("ocd", "word_start", _DIAGNOSIS),
    ForbiddenTerm("ptsd", "word_start", _DIAGNOSIS),
    ForbiddenTerm("crps", "word_start", _DIAGNOSIS),
    ForbiddenTerm("phq", "word", "outcome questionnaire implies diagnosis"),
    # from the catalogue's former list (not caught by the entries above)
    ForbiddenTerm("psycho", "word_start", _SPECIALTY + "; psychology, psychotherapy"),
    ForbiddenTerm("mental", "word_start", _SPECIALTY + "; not 'environmental'"),
    ForbiddenTerm("self-harm", "word_start", _DIAGNOSIS),
    ForbiddenTerm("neuralgia", "anywhere", _DIAGNOSIS),
)

_WORD_FORMS = {"pain": "pain(?:s|ful)?"}


def _compile(t: ForbiddenTerm) -> re.Pattern[str]:
    body = _WORD_FORMS.get(t.term, re.escape(_SEPARATORS.sub(" ", t.term)))
    if t.match == "anywhere":
        return re.compile(body)
    if t.match == "word_start":
        return re.compile(rf"(?<![a-z0-9]){body}")
    return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")


_SEPARATORS = re.compile(r"[\s_\-]+")
_TERM_PATTERNS = [(t.term, _compile(t)) for t in FORBIDDEN_TERMS]
_CAMEL_BOUNDARIES = re.compile(
    r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])"
)


# One pass over the text answers the common question "is anything there?"; only a text that
# holds a term is searched term by term (so the answer is still the first entry of the list).
_ANY_TERM = re.compile("|".join(f"(?:{p.pattern})" for _, p in _TERM_PATTERNS))


def _normalise_for_matching(text: str) -> str:
    if not text.isascii():  # ASCII has nothing to decompose
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    spaced = _CAMEL_BOUNDARIES.sub(" ", text).lower()
    return _SEPARATORS.sub(" ", spaced)


@lru_cache(maxsize=4096)  # clinic names, places and preparation texts repeat on every message
def contains_forbidden_term(text: str) -> str | None:
    """The first ``FORBIDDEN_TERMS`` entry found in ``text`` (case/accents ignored), or None."""
    normalised = _normalise_for_matching(text)
    if _ANY_TERM.search(normalised) is None:
        return None
    for term, pattern in _TERM_PATTERNS:
        if pattern.search(normalised):
            return term
    return None  # pragma: no cover - the combined pattern matched one of these


class ForbiddenTermError(ValueError):
    """Rendering refused: text would disclose treatment or diagnosis (DESIGN.md §4 promise 5)."""

    def __init__(self, term: str, field_name: str) -> None:
        super().__init__(f"{field_name} contains a term not allowed in patient messages: {term!r}")
        self.term = term
        self.field_name = field_name


def ensure_safe(field_name: str, text: str) -> None:
    """Raise ``ForbiddenTermError`` when ``text`` holds a forbidden term."""
    term = contains_forbidden_term(text)
    if term is not None:
        raise ForbiddenTermError(term, field_name)


__all__ = [
    "FORBIDDEN_TERMS",
    "ForbiddenTerm",
    "ForbiddenTermError",
    "contains_forbidden_term",
    "ensure_safe",
]
