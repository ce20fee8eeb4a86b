from django import template

from dashboard import labels

register = template.Library()


@register.filter
def modality_label(code: str) -> str:
    return labels.modality_label(code)


@register.filter
def step_label(code: str) -> str:
    return labels.step_label(code)


@register.filter
def target_label(code: str) -> str:
    return labels.target_label(code)


@register.filter
def parameters_text(parameters: dict) -> str:
    return labels.parameters_text(parameters)


@register.filter
def flag_text(flag) -> str:
    return labels.flag_text(flag)


@register.filter
def flag_label(code: str) -> str:
    return labels.flag_label(code)


@register.filter
def severity_label(code: str) -> str:
    return labels.severity_label(code)


@register.filter
def humanize(text: str) -> str:
    return labels.humanize(text)


@register.filter
def instrument_label(code: str) -> str:
    return labels.instrument_label(code)


@register.filter
def audit_object_label(object_type: str) -> str:
    return labels.audit_object_label(object_type)


@register.filter
def phase_label(code: str) -> str:
    return labels.phase_label(code)
