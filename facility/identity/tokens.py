"""Signed bearer tokens (JWT, HS256). Expiry is checked against the facility clock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from facility.errors import Unauthenticated
from facility.settings import Settings

ALGORITHM = "HS256"
AUDIENCE = "facility-api"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class Tokens:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.secret_key.get_secret_value()
        self._lifetime = timedelta(minutes=settings.access_token_minutes)

    def issue(self, user_id: uuid.UUID, role: str, now: datetime) -> IssuedToken:
        expires = now + self._lifetime
        claims = {
            "sub": str(user_id),
            "role": role,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        return IssuedToken(jwt.encode(claims, self._key, algorithm=ALGORITHM), expires)

    def subject(self, token: str, now: datetime) -> uuid.UUID:
        """The user id a valid token names; raises Unauthenticated otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                # Times are judged by the facility clock below, not by the system's.
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["sub", "exp", "aud"],
                },
            )
            expires = int(claims["exp"])
            user_id = uuid.UUID(str(claims["sub"]))
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise Unauthenticated("The access token is not valid") from exc
        if expires <= now.timestamp():
            raise Unauthenticated("The access token has expired")
        return user_id
