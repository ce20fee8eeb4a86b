"""Who may use the dashboard at all: clinic staff (clinicians, coordinators, admins).

What each of them sees is decided by ``plans.access`` / ``scheduling.access`` (care team /
organisation); this module keeps patients and role-less accounts out, and scopes the few
dashboard-only lists (``report_clinics``). Decision (issue 6): a patient account is refused at
sign-in with a message and never gets a dashboard session; a patient session obtained elsewhere
(e.g. the admin site) gets 403 on every dashboard page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from backend.accounts.models import Role, User
from backend.errors import NotFoundError
from plans.access import active_user
from scheduling.models import Clinic

STAFF_ROLES = frozenset({Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN})


class StaffRequest(HttpRequest):
    """The request of a ``staff_required`` view: ``user`` is a signed-in ``User`` (typing only;
    Django builds a plain ``HttpRequest``)."""

    user: User


def is_staff_user(user: AbstractBaseUser | AnonymousUser) -> bool:
    return active_user(user) and getattr(user, "role", None) in STAFF_ROLES


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous → the sign-in page; signed in but not staff → 403; ``NotFoundError`` → 404."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_staff_user(request.user):
            raise PermissionDenied("The dashboard is for clinic staff.")
        try:
            return view(request, *args, **kwargs)
        except NotFoundError as exc:
            raise Http404(exc.message) from None

    return wrapped


def report_clinics(user: User) -> QuerySet[Clinic]:
    """Clinics the reports page offers as a filter: the user's organisation's; a platform admin
    without one, every clinic."""
    if user.organization_id:
        return Clinic.objects.filter(organization_id=user.organization_id).order_by("name")
    return Clinic.objects.order_by("name")
