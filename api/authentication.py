"""DRF's token authentication with the token and its user read by one fixed query (issue 17).

``rest_framework.authentication.TokenAuthentication`` looks the key up with
``Token.objects.select_related("user").get(key=…)``, compiled anew on every request: on a plan
detail that compile cost more than the query. This is the same lookup — the same join, the
same failures and messages (an unknown key, an inactive user: 401 with ``WWW-Authenticate:
Token``) — as SQL written once (``backend.db.rows``); the user and the token come back as the
ORM builds them. tests/api/test_authentication.py holds it to DRF's behaviour.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from backend.db.rows import attnames, fetch_dicts, load, prefixed, select_list


@functools.cache
def _token_sql() -> str:
    user = get_user_model()
    return f"""
SELECT {select_list("t", attnames(Token), "t__")}, {select_list("u", attnames(user), "u__")}
FROM "{Token._meta.db_table}" t JOIN "{user._meta.db_table}" u ON u.id = t.user_id
WHERE t.key = %s
"""  # noqa: S608  (table and column names from the models; the key is a parameter)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        rows = fetch_dicts(_token_sql(), [key])
        if not rows:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = load(get_user_model(), prefixed(rows[0], "u__"))
        token = load(Token, prefixed(rows[0], "t__"))
        token.user = user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, token
