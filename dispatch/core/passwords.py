"""Which passwords an account may have. Pure.

A simple policy that stops the guesses tried first (NIST SP 800-63B, 5.1.1.2:
a minimum length, no composition rules, a blocklist of common and
context-specific passwords): at least MIN_LENGTH characters, not the e-mail
address or the name (nor their parts), not one of the most common passwords.
`check_password` keeps its signature for whoever refines it."""

from __future__ import annotations

import re
import unicodedata

from dispatch.core.validation import InputError

MIN_LENGTH = 10
MAX_LENGTH = 1024

# The most common passwords of the public breach lists that are 10 characters
# or longer (shorter ones fail on length already), and French favourites.
COMMON = frozenset(
    {
        "1234567890",
        "0123456789",
        "12345678910",
        "123456789a",
        "1234567890a",
        "1q2w3e4r5t",
        "1q2w3e4r5t6y",
        "qwertyuiop",
        "azertyuiop",
        "aqwzsxedcrfv",
        "0987654321",
        "9876543210",
        "1111111111",
        "0000000000",
        "abcdefghij",
        "password12",
        "password123",
        "password1234",
        "motdepasse",
        "motdepasse1",
        "motdepasse123",
        "iloveyou12",
        "jetaime123",
        "qwerty1234",
        "qwerty123456",
        "azerty1234",
        "azerty123456",
        "soleil1234",
        "bonjour123",
        "bonjour1234",
        "marseille13",
        "doudou1234",
        "chouchou12",
        "football12",
        "baseball12",
        "princesse1",
        "loulou1234",
        "123123123123",
        "zxcvbnm123",
        "administrator",
        "changeme123",
        "letmein1234",
        "welcome123",
        "passw0rd123",
        "police1234",
        "narbonne11",
        "narbonne11100",
    }
)


def _fold(text: str) -> str:
    """Lower case without accents, for comparisons."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _parts(email: str, name: str) -> set[str]:
    """The words of the e-mail and the name long enough to be a guess."""
    local = email.split("@", 1)[0]
    words = re.split(r"[^\w]+|_", _fold(f"{local} {name}"))
    return {w for w in words if len(w) >= 4} | {_fold(local), _fold(email), _fold(name).replace(" ", "")}


def check_password(password: str, email: str, name: str) -> None:
    """Raise InputError(422, "weak_password") unless the policy allows it."""
    if len(password) < MIN_LENGTH:
        raise InputError(422, "weak_password", f"the password needs at least {MIN_LENGTH} characters", "password")
    if len(password) > MAX_LENGTH:
        raise InputError(422, "too_long", f"the password is longer than {MAX_LENGTH} characters", "password")
    folded = _fold(password)
    compact = re.sub(r"\s+", "", folded)
    if folded in COMMON or compact in COMMON or len(set(compact)) <= 2:
        raise InputError(422, "weak_password", "this password is among the first ones guessed", "password")
    for part in _parts(email, name):
        if part and (compact == part or (len(part) >= 4 and compact.startswith(part) and len(compact) - len(part) < 4)):
            raise InputError(422, "weak_password", "the password must not be your e-mail address or name", "password")
