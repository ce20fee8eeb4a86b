"""The request type of a view behind authentication: ``request.user`` is a ``User``.

DRF types ``Request.user`` as ``User | AnonymousUser``; a view whose permission classes admit
only authenticated users (the default, ``IsAuthenticated``) never sees the anonymous one, so its
``request`` parameter (or its ``request`` attribute, on generic views) is annotated
``AuthenticatedRequest``. Typing only: DRF builds a plain ``Request``, never this class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request

from backend.accounts.models import User


class AuthenticatedRequest(Request):
    if TYPE_CHECKING:

        @property
        def user(self) -> User: ...

        @user.setter
        def user(self, value: User) -> None: ...
