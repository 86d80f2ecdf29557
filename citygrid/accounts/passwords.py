"""Passwords: how strong one must be, and its argon2 hash (no FastAPI, no SQL)."""

from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from zxcvbn import zxcvbn

from citygrid.errors import InvalidInput

MIN_PASSWORD_LENGTH = 10
MIN_PASSWORD_SCORE = 3  # zxcvbn's 0–4: 3 is "safely unguessable", ~10^8 guesses or more
# zxcvbn's time grows fast with the length, and since 4.5 it refuses more than 72 characters
# (ValueError); characters past these only make a password stronger.
PASSWORD_CHARS_SCORED = 72
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_weakness(password: str, *, user_inputs: Sequence[str] = ()) -> str | None:
    """Why a password is too weak (too short, or easy to guess given `user_inputs` such as the
    username), or None when it is strong enough."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    words = [word for word in user_inputs if word] + ["citygrid"]
    result = zxcvbn(password[:PASSWORD_CHARS_SCORED], user_inputs=words)
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = result["feedback"]
    hints = " ".join(hint for hint in [feedback["warning"], *feedback["suggestions"]] if hint)
    return "the password is too easy to guess" + (f": {hints}" if hints else "")


def check_password_strength(password: str, *, user_inputs: Sequence[str] = ()) -> None:
    """Refuse a weak password (InvalidInput naming the field `password`)."""
    weakness = password_weakness(password, user_inputs=user_inputs)
    if weakness is not None:
        raise InvalidInput(weakness, field="password")


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False
