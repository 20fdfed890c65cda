"""Pseudonyms: each person (and service account) under a stable label nobody can reverse without a key.

A pseudonym is a keyed hash of the name as written, trimmed and case-folded (``Ann@X.com `` and
``ann@x.com`` are one person): HMAC-SHA256 with the secret ``BILLING_REPORTS_PSEUDONYM_KEY``,
its first 48 bits shown as ``Person 4F7A-91C2-B3D5`` (an email) or ``Account 0C1E-7A22-9F03``
(a service account, named without ``@``). The same key gives the same pseudonym on every build;
without it, hashing candidate emails (plain SHA-256, HMAC with another or an empty key) finds
none of them. Among 10,000 people the chance that two share a pseudonym is about 1 in 5 million;
should it happen, :meth:`Pseudonyms.user` raises rather than merge two people (a new key ends it).

What is not a person keeps its name: :data:`~billing_reports.usage.REMOVED_USER` (events without
an email: nobody in particular), groups, models. Free text from the API that may hold an email
(a model's or a group's name, a problem Cursor's answer had) goes through :meth:`Pseudonyms.scrub`:
each email in it, and each display name Cursor listed (as a whole word), becomes its pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from typing import Annotated, Iterable

import msgspec

from .errors import ConfigError
from .usage import REMOVED_USER, SERVICE_ACCOUNT_MARK

#: Where the key comes from: the environment, else ``.env`` (never config.yaml).
PSEUDONYM_KEY_VARIABLE = "BILLING_REPORTS_PSEUDONYM_KEY"
#: The shortest key taken: a short key can be guessed, and with it every pseudonym reversed.
MIN_KEY_LENGTH = 16
#: Bytes of the HMAC a pseudonym shows (48 bits: 12 hex digits).
CODE_BYTES = 6
#: What a pseudonym of an email and of a service account's name begins with.
PERSON, ACCOUNT = "Person", "Account"
#: Hashed before every name, so that these pseudonyms are no other use's HMAC of an email.
_DOMAIN = b"billing-reports pseudonym v1\x00"
#: An email inside free text: something@host.tld, without spaces, brackets or quotes.
_EMAIL = re.compile(r"[^\s@<>()\[\]{},;:\"'`]+@[^\s@<>()\[\]{},;:\"'`]+\.[^\s@<>()\[\]{},;:\"'`]+")

#: A plugin setting that names a person (an email, or a service account's name): on a pseudonymised
#: report the plugin reads the person's pseudonym there (``usage.person(name)``). Use it as a key
#: (``users_usd: dict[Person, float]``), a value, or the item of a list.
Person = Annotated[str, msgspec.Meta(extra={"person": True})]

NO_KEY = (f"privacy.pseudonymise (or --pseudonymise) needs the secret {PSEUDONYM_KEY_VARIABLE} in the "
          "environment or in .env, and it is not set; create one once and keep it (the same key keeps the same "
          "pseudonyms): python3 -c 'import secrets; print(secrets.token_hex(32))'")


def key_from(settings) -> str:
    """The pseudonym key of ``settings`` (environment, else ``.env``).

    :raises ConfigError: it is not set, or is too short to keep the pseudonyms from being reversed."""
    key = settings.secret(PSEUDONYM_KEY_VARIABLE)
    if not key:
        raise ConfigError(NO_KEY)
    if len(key.strip()) < MIN_KEY_LENGTH:
        raise ConfigError(f"{PSEUDONYM_KEY_VARIABLE} is shorter than {MIN_KEY_LENGTH} characters, short enough "
                          "to guess and reverse every pseudonym; make a new one: "
                          "python3 -c 'import secrets; print(secrets.token_hex(32))'")
    return key.strip()


def normalised(name: str) -> str:
    """The form a name is hashed in: Unicode NFC, trimmed, case-folded."""
    return unicodedata.normalize("NFC", name).strip().casefold()


class Pseudonyms:
    """The pseudonyms of one key, and every name they were given for (:meth:`names`)."""

    def __init__(self, key: str, *, code_bytes: int = CODE_BYTES) -> None:
        self._key = key.encode("utf-8")
        self._code_bytes = code_bytes
        #: normalised name -> pseudonym, and pseudonym -> normalised name (a second one is a collision)
        self._labels: dict[str, str] = {}
        self._owners: dict[str, str] = {}
        #: pseudonym -> each name as written that got it
        self._written: dict[str, set[str]] = {}
        self._display: dict[str, str] = {}
        self._display_pattern: re.Pattern[str] | None = None

    def of(self, name: str) -> str:
        """The pseudonym of a person (an email) or a service account (its name, without the mark)."""
        key = normalised(name)
        label = self._labels.get(key)
        if label is None:
            digest = hmac.new(self._key, _DOMAIN + key.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
            code = digest[: self._code_bytes].hex().upper()
            grouped = "-".join(code[index:index + 4] for index in range(0, len(code), 4))
            label = f"{PERSON if '@' in key else ACCOUNT} {grouped}"
            owner = self._owners.setdefault(label, key)
            if owner != key:
                raise ConfigError(f"two different people or service accounts got the same pseudonym {label}; "
                                  f"choose a new {PSEUDONYM_KEY_VARIABLE} (every pseudonym changes with it) and "
                                  "build again")
            self._labels[key] = label
        self._written.setdefault(label, set()).add(name)
        return label

    def user(self, user: str) -> str:
        """A user as the ledger names them: an email, ``NAME (service account)``, or the removed user
        (who stays: nobody in particular). Empty stays empty."""
        if not user or user == REMOVED_USER:
            return user
        if user.endswith(SERVICE_ACCOUNT_MARK):
            return self.of(user[: -len(SERVICE_ACCOUNT_MARK)]) + SERVICE_ACCOUNT_MARK
        return self.of(user)

    def know_display_names(self, names: Iterable[tuple[str, str]]) -> None:
        """``(email, display name)`` pairs (Cursor's member list): :meth:`scrub` replaces those names too."""
        for email, name in names:
            if email and name and len(name.strip()) >= 3:
                self._display.setdefault(name.strip().casefold(), email)
        if self._display:
            alternatives = "|".join(re.escape(name) for name in sorted(self._display, key=len, reverse=True))
            self._display_pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)

    def scrub(self, text: str) -> str:
        """``text`` (a name or message from the API) with each email in it, and each known display
        name as a whole word, replaced by its person's pseudonym."""
        if not text:
            return text
        if "@" in text:
            text = _EMAIL.sub(lambda found: self.of(found.group(0).rstrip(".")), text)
        if self._display_pattern is not None:
            text = self._display_pattern.sub(lambda found: self.of(self._display[found.group(0).casefold()]), text)
        return text

    def names(self) -> dict[str, list[str]]:
        """Every pseudonym given so far -> the names as written that got it (A to Z)."""
        return {label: sorted(written) for label, written in sorted(self._written.items())}


__all__ = ["ACCOUNT", "CODE_BYTES", "MIN_KEY_LENGTH", "NO_KEY", "PERSON", "PSEUDONYM_KEY_VARIABLE", "Person", "Pseudonyms",
           "key_from", "normalised"]
