"""Who may use the dashboard at all: clinic staff (clinicians, coordinators, admins).

What each of them sees is decided by ``plans.access`` (care team / organisation); this module only
keeps patients and role-less accounts out. Decision (issue 6): a patient account is refused at
sign-in with a message and never gets a dashboard session; a patient session obtained elsewhere
(e.g. the admin site) gets 403 on every dashboard page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from backend.accounts.models import Role
from backend.errors import NotFoundError

STAFF_ROLES = frozenset({Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN})


def is_staff_user(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and getattr(user, "role", None) in STAFF_ROLES
    )


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
