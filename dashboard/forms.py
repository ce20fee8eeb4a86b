"""Forms of the dashboard: shape only (STYLE.md habit 4); the services judge the rest."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from backend.accounts.models import User
from dashboard.access import is_staff_user


class StaffAuthenticationForm(AuthenticationForm):
    """Sign-in for clinic staff. A patient account is refused here (and never gets a session),
    with a message saying where patients go instead; the pages also refuse any patient session
    that exists by other means (403, see ``dashboard.access.staff_required``)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_staff": (
            "This dashboard is for clinic staff. Patients can see their appointments in the "
            "calendar feed and reminders the clinic sends."
        ),
    }

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not is_staff_user(user):
            raise forms.ValidationError(self.error_messages["not_staff"], code="not_staff")


class DismissFlagForm(forms.Form):
    reason = forms.CharField(
        label="Reason for dismissing",
        max_length=500,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class CheckInForm(forms.Form):
    override_reason = forms.CharField(
        label="Override reason",
        max_length=500,
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
