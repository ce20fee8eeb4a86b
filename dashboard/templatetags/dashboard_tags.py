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
