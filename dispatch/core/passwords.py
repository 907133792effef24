"""Which passwords an account may have. Pure.

NIST SP 800-63B (5.1.1.2): a minimum length, no composition rules, and a
blocklist of the passwords guessed first and of the account's own words. At
least MIN_LENGTH characters; not the e-mail address, its local part or the
name (ignoring case, accents and spaces); not one of COMMON; not one or two
characters repeated. "correct horse battery staple" passes."""

from __future__ import annotations

import unicodedata

from dispatch.core.validation import InputError

MIN_LENGTH = 10
MAX_LENGTH = 1024

# Passwords of 10 characters or more that top the public breach lists, and
# French favourites (shorter ones already fail on length).
COMMON = frozenset(
    {
        "0123456789",
        "1234567890",
        "12345678910",
        "0987654321",
        "9876543210",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "qwertyuiop",
        "azertyuiop",
        "qwerty1234",
        "azerty1234",
        "azerty123456",
        "qwerty123456",
        "abcdefghij",
        "password12",
        "password123",
        "password1234",
        "passw0rd123",
        "motdepasse",
        "motdepasse1",
        "motdepasse123",
        "jetaime123",
        "iloveyou12",
        "bonjour123",
        "soleil1234",
        "doudou1234",
        "loulou1234",
        "chouchou12",
        "marseille13",
        "football12",
        "princesse1",
        "administrator",
        "changeme123",
        "welcome123",
        "letmein1234",
        "police1234",
        "policemunicipale",
        "narbonne11",
        "narbonne11100",
    }
)


def _fold(text: str) -> str:
    """Lower case, no accents, no spaces: how two spellings are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace())


def check_password(password: str, email: str, name: str) -> None:
    """Raise InputError(422, "weak_password") unless the policy allows it."""
    if len(password) < MIN_LENGTH:
        raise InputError(422, "weak_password", f"the password needs at least {MIN_LENGTH} characters", "password")
    if len(password) > MAX_LENGTH:
        raise InputError(422, "too_long", f"the password is longer than {MAX_LENGTH} characters", "password")
    folded = _fold(password)
    if folded in COMMON or len(set(folded)) <= 2:
        raise InputError(422, "weak_password", "this password is among the first ones guessed", "password")
    own = {_fold(email), _fold(email.split("@", 1)[0]), _fold(name)} - {""}
    if folded in own:
        raise InputError(422, "weak_password", "the password must not be the e-mail address or the name", "password")
