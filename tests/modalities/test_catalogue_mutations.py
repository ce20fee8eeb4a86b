"""Mutation-style check of the catalogue's numbers (issue 15): every numeric value in
``modalities/catalogue/*.yaml`` is guarded — changing it makes a test fail.

Two tests work together:

1. ``test_catalogue_behaves_as_released`` compares the rules' behaviour on the real catalogue
   (``catalogue_guards.fingerprint``: course generation, cap, readiness, label by age, and the
   descriptive protocol card) with ``catalogue_golden.json``. Any change of behaviour fails it.
2. ``test_every_numeric_value_is_guarded`` walks the YAML, perturbs each numeric value (+1 and
   −1, one at a time, in a parsed copy; anchors expanded so a shared value is perturbed per
   protocol) and asserts that the loader rejects the change or the protocol's fingerprint
   differs — i.e. test 1 would fail. Rule values must be caught by behaviour, not only by the
   descriptive card.

Pure (no database), about a second or two per run on a quiet machine.

Before issue 15 (commit 44b5041) the suite pinned a dozen of these numbers by hand
(tests/modalities/test_catalogue.py::test_required_protocol_shapes: the 10 Hz total of 36, the
iTBS cap of 30, SAINT's phase, the TRD induction 8 doses / 48 h and chair ≥ 120, the MDD-SI total
of 8, the ketamine total of 6); every other value — validity windows, every_n timing values
(motor-threshold re-check 5, neurofeedback re-assessment 20, suicide screen 1), trial thresholds
(min_failed_trials, min_trial_weeks), chair/mapping minutes, caps of the other protocols, phase
counts of tapers and maintenance, age limits (15–21 adolescent, 18+), measure-schedule ``n`` and
protocol parameters — could change without a test noticing. All are guarded now.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from modalities.catalogue import CATALOGUE_DIR, parse_catalogue_document
from modalities.specs import CatalogueError
from tests.modalities import catalogue_guards as guards

DESCRIPTIVE = ("parameters", "measure_schedule", "version", "session_minutes")
"""Path parts of values that no rule evaluates (shown to clinicians; pinned by the card)."""


def _descriptive(doc, path) -> bool:
    """Values no rule evaluates: protocol parameters other than the completion limits,
    measure-schedule ``n``, version, session minutes, and the age range of an off-label
    indication (derive_label_status only narrows a cleared/approved one)."""
    if any(part in DESCRIPTIVE for part in path):
        return True
    if len(path) >= 5 and path[2] == "indications" and path[-1] in ("min_age", "max_age"):
        indication = doc["protocols"][path[1]]["indications"][path[3]]
        return indication["label_status"] == "off_label"
    return False


def _numeric_leaves(node, path=()):
    if isinstance(node, bool):
        return
    if isinstance(node, int | float):
        yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _numeric_leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _numeric_leaves(value, (*path, i))


def _documents() -> dict[str, dict]:
    # a JSON round trip expands YAML aliases into independent copies (one value per protocol)
    return {
        f.name: json.loads(json.dumps(yaml.safe_load(f.read_text(encoding="utf-8"))))
        for f in sorted(Path(CATALOGUE_DIR).glob("*.yaml"))
    }


def _get(node, path):
    for part in path:
        node = node[part]
    return node


def _set(node, path, value):
    _get(node, path[:-1])[path[-1]] = value


def test_catalogue_behaves_as_released():
    # Given the golden fingerprints of the released catalogue
    golden = json.loads(guards.GOLDEN.read_text(encoding="utf-8"))

    # When the rules run over the catalogue as it is now
    current = json.loads(json.dumps(guards.catalogue_fingerprints()))

    # Then nothing moved (after a deliberate change: regenerate and review the golden's diff)
    assert sorted(current) == sorted(golden)
    for ident in golden:
        for part in guards.CATEGORIES:
            assert current[ident][part] == golden[ident][part], (ident, part)


def test_every_numeric_value_is_guarded():
    documents = _documents()
    baseline: dict[tuple[str, int], dict] = {}
    unguarded, card_only_rules = [], []
    checked = 0
    for file, doc in documents.items():
        for path in _numeric_leaves(doc.get("protocols", []), ("protocols",)):
            index = path[1]
            value = _get(doc, path)
            if (file, index) not in baseline:
                spec = parse_catalogue_document(doc, file)[index]
                # a JSON copy: the spec shares parameter lists with the document we mutate
                baseline[(file, index)] = json.loads(json.dumps(guards.fingerprint(spec)))
            caught: set[str] = set()
            for changed in (value + 1, value - 1):
                _set(doc, path, changed)
                try:
                    spec = parse_catalogue_document(doc, file)[index]
                    mutated = json.loads(json.dumps(guards.fingerprint(spec)))
                except (CatalogueError, ValueError):
                    caught.add("loader")
                else:
                    caught |= {
                        part
                        for part in guards.CATEGORIES
                        if mutated[part] != baseline[(file, index)][part]
                    }
                finally:
                    _set(doc, path, value)
            checked += 1
            where = f"{file}:{doc['protocols'][index]['code']}:" + ".".join(map(str, path[2:]))
            if not caught:
                unguarded.append(where)
            elif caught == {"card"} and not _descriptive(doc, path):
                card_only_rules.append(where)

    # Then every value is caught, and every rule value by the rules' behaviour
    assert checked > 200
    assert unguarded == [], "\n".join(unguarded)
    assert card_only_rules == [], "\n".join(card_only_rules)


@pytest.mark.parametrize("part", ["parameters", "measure_schedule", "version"])
def test_descriptive_values_are_pinned_by_the_card(part):
    # Given a descriptive number (a protocol parameter, a measure-schedule n, the version)
    doc = _documents()["neurofeedback.yaml"]
    path = {
        "parameters": ("protocols", 0, "parameters", "training_minutes"),
        "measure_schedule": ("protocols", 0, "measure_schedule", 2, "n"),
        "version": ("protocols", 0, "version"),
    }[part]
    before = guards.fingerprint(parse_catalogue_document(doc, "neurofeedback.yaml")[0])

    # When it changes
    _set(doc, path, _get(doc, path) + 1)
    after = guards.fingerprint(parse_catalogue_document(doc, "neurofeedback.yaml")[0])

    # Then the card (what a clinician reads) differs
    assert after["card"] != before["card"]
