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
from .usage import REMOVED_USER, SERVICE_ACCOUNT_MARK, normalised

#: Where the key comes from: the environment, else ``.env`` (never config.yaml).
PSEUDONYM_KEY_VARIABLE = "BILLING_REPORTS_PSEUDONYM_KEY"
#: The shortest key taken: a short key can be guessed, and with it every pseudonym reversed.
MIN_KEY_LENGTH = 32
#: Bytes of the HMAC a pseudonym shows (48 bits: 12 hex digits).
CODE_BYTES = 6
#: What a pseudonym of an email and of a service account's name begins with.
PERSON, ACCOUNT = "Person", "Account"
#: Hashed before every name, so that these pseudonyms are no other use's HMAC of an email.
_DOMAIN = b"billing-reports pseudonym v1\x00"
#: The ways free text writes an email's ``@`` (``ann＠x.test`` a full-width one, ``ann%40x.test`` a URL's).
_AT_SIGNS = ("@", "\uff20", "%40", "%40".upper())
_NOT_IN_EMAIL = r"\s@\uff20<>()\[\]{},;:\"'`"
#: An email inside free text: something@host, without spaces, brackets or quotes (an apostrophe
#: inside the local part, as in o'brien@, kept), its host with a letter in it (with or without a dot).
_EMAIL = re.compile(rf"[^{_NOT_IN_EMAIL}]+(?:'[^{_NOT_IN_EMAIL}]+)*(?:@|\uff20|%40)"
                    rf"[^{_NOT_IN_EMAIL}]*[^\W\d_][^{_NOT_IN_EMAIL}]*", re.IGNORECASE)
#: Known local parts, domains and names are looked for as words: not inside a longer word,
#: ``a-b``, ``a.b``, ``a+b`` or an email (a member called Max does not rename ``gpt-5.1-codex-max``).
_BEFORE_WORD = r"(?<![\w.+\-@\uff20%])"
_AFTER_WORD = r"(?![\w+\-@\uff20]|\.\w|%40)"
#: The shortest local part, domain or word of a name looked for alone (shorter ones are common words).
MIN_TOKEN_LENGTH = 4
#: Where a local part is cut into the words that may be someone's name (ann.lee: ann, lee).
_WORD_SPLIT = re.compile(r"[._+\-]+")
_PUNCTUATION = " \t'\"`.,;:!?()[]{}<>"
#: What replaces a known name or local part that more than one person has, and a known domain.
SOMEONE, A_DOMAIN = "(someone)", "(email domain)"
#: Words a pseudonym is made of: never taken for a name.
_OWN_WORDS = frozenset({"person", "account", "service", "someone", "email", "domain"})
#: A replacement made, held as two private-use characters until every pattern has run.
_HELD_OPEN, _HELD_CLOSE, _HELD_BASE = "\ue000", "\ue001", 0xE100
_HELD = re.compile("\ue000(.)\ue001", re.DOTALL)

#: A plugin setting that names a person (an email, or a service account's name): on a pseudonymised
#: report the plugin reads the person's pseudonym there (``usage.person(name)``). Use it as a key
#: (``users_usd: dict[Person, float]``), a value, or the item of a list.
Person = Annotated[str, msgspec.Meta(extra={"person": True})]
#: A plugin setting that names a group (a Cursor billing group's or the mapping file's): on a
#: pseudonymised report the plugin reads it as the report shows that group (an email or display
#: name in it replaced by its pseudonym, as :meth:`Pseudonyms.scrub_name` does).
GroupName = Annotated[str, msgspec.Meta(extra={"group": True})]

NO_KEY = (f"privacy.pseudonymise (or --pseudonymise) needs the secret {PSEUDONYM_KEY_VARIABLE} in the "
          "environment or in .env, and it is not set; create one once and keep it (the same key keeps the same "
          "pseudonyms): python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")


def key_from(settings) -> str:
    """The pseudonym key of ``settings`` (environment, else ``.env``).

    :raises ConfigError: it is not set, or is too short to keep the pseudonyms from being reversed."""
    key = settings.secret(PSEUDONYM_KEY_VARIABLE)
    if not key:
        raise ConfigError(NO_KEY)
    if len(key.strip()) < MIN_KEY_LENGTH:
        raise ConfigError(f"{PSEUDONYM_KEY_VARIABLE} is shorter than {MIN_KEY_LENGTH} characters, short enough "
                          "to guess and reverse every pseudonym; make a new one: "
                          "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return key.strip()


def _fold(text: str) -> str:
    """How a display name is compared: case-folded (``Straße`` is ``STRASSE``)."""
    return unicodedata.normalize("NFC", text).casefold()


def _as_email(found: str) -> str:
    """An email found in free text, its ``@`` written as ``@`` (not ``＠``, ``%40``), trailing dots cut."""
    for sign in _AT_SIGNS:
        found = found.replace(sign, "@")
    return normalised(found.rstrip("."))


def _domains(emails: Iterable[str]) -> set[str]:
    return {email.rpartition("@")[2] for email in emails}


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
        #: What :meth:`scrub` and :meth:`scrub_name` look for besides the shape of an email:
        #: known emails (written out whole), their local parts and domains (as words), display
        #: names and their words (:meth:`scrub_name` only); each -> the email of its person
        #: (``""``: more than one person, or nobody: replaced by :data:`SOMEONE` / :data:`A_DOMAIN`).
        self._emails: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._patterns: tuple[re.Pattern[str] | None, re.Pattern[str] | None, re.Pattern[str] | None] | None = None
        self._scrubbed: dict[tuple[bool, str], str] = {}

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

    def know_people(self, emails: Iterable[str]) -> None:
        """The team's emails (members, the ledger's users, Cursor's figures): :meth:`scrub` finds each
        written out whole, whatever its shape, and its local part and domain standing as words."""
        for email in emails:
            email = normalised(email or "")
            if "@" not in email or email in self._emails:
                continue
            self._emails[email] = email
            local, _, domain = email.rpartition("@")
            for token, owner in ((local, email), (domain, "")):
                if len(token) >= MIN_TOKEN_LENGTH:
                    self._tokens[token] = owner if self._tokens.get(token, owner) == owner else ""
            for word in _WORD_SPLIT.split(local):  # ann.lee: "ann" and "lee" as names (scrub_name)
                self._know_name(word, email)
        self._patterns = None

    def know_display_names(self, names: Iterable[tuple[str, str]]) -> None:
        """``(email, display name)`` pairs (Cursor's member list): :meth:`scrub_name` replaces those
        names, and each of their words of four letters or more, too."""
        for email, name in names:
            name = unicodedata.normalize("NFC", name or "").strip()
            if not email or len(name) < 3:
                continue
            self._know_name(name, normalised(email), whole=True)
            for word in name.split():
                self._know_name(word, normalised(email))
        self._patterns = None

    def _know_name(self, name: str, email: str, *, whole: bool = False) -> None:
        name = name.strip(_PUNCTUATION)
        if len(name) < (3 if whole else MIN_TOKEN_LENGTH) or _fold(name) in _OWN_WORDS:
            return
        for form in {name, name.lower(), _fold(name)}:
            owner = self._names.get(form, email)
            self._names[form] = email if owner == email else ""

    def _compiled(self) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None, re.Pattern[str] | None]:
        if self._patterns is None:
            def either(words: Iterable[str]) -> str:
                return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))

            emails = re.compile(either(self._emails), re.IGNORECASE) if self._emails else None
            tokens = re.compile(rf"{_BEFORE_WORD}(?:{either(self._tokens)}){_AFTER_WORD}",
                                re.IGNORECASE) if self._tokens else None
            names = re.compile(rf"{_BEFORE_WORD}(?:{either(self._names)}){_AFTER_WORD}",
                               re.IGNORECASE) if self._names else None
            self._patterns = (emails, tokens, names)
            self._scrubbed.clear()
        return self._patterns

    def scrub(self, text: str) -> str:
        """``text`` (a model's name, a kind, a field of an event: anything that is not a person's
        name) with each email in it, and each known local part or domain as a word, replaced: an
        email and a local part by their person's pseudonym, a domain by :data:`A_DOMAIN`. Display
        names are not looked for (a member called Claude does not rename ``claude-4.5-sonnet``)."""
        return self._scrub(text, names=False)

    def scrub_name(self, text: str) -> str:
        """``text`` (a group's name, a problem Cursor's answer had) scrubbed as :meth:`scrub` does,
        and each known display name, or word of one, standing as a word (not inside ``a-b``,
        ``a.b`` or next to a digit), replaced by its person's pseudonym."""
        return self._scrub(text, names=True)

    def _scrub(self, text: str, *, names: bool) -> str:
        if not text:
            return text
        emails, tokens, known_names = self._compiled()
        done = self._scrubbed.get((names, text))
        if done is not None:
            return done
        held: list[str] = []

        def hold(label: str) -> str:  # a replacement no later pattern can match inside
            held.append(label)
            return _HELD_OPEN + chr(_HELD_BASE + len(held) - 1) + _HELD_CLOSE

        def person_or_someone(owner: str) -> str:
            return hold(self.of(owner) if owner else SOMEONE)

        scrubbed = text
        if emails is not None:
            scrubbed = emails.sub(lambda found: person_or_someone(normalised(found.group(0))), scrubbed)
        if any(sign in scrubbed for sign in _AT_SIGNS):
            scrubbed = _EMAIL.sub(lambda found: person_or_someone(_as_email(found.group(0))), scrubbed)
        if tokens is not None:
            def token(found: re.Match[str]) -> str:
                word = found.group(0)
                if word == text and "." not in word and not names:
                    return word  # a model called exactly like a local part ("auto"): a model
                owner = self._tokens.get(word.lower(), "")
                if owner:
                    return hold(self.of(owner))
                return hold(A_DOMAIN if word.lower() in _domains(self._emails) else SOMEONE)
            scrubbed = tokens.sub(token, scrubbed)
        if names and known_names is not None:
            def name(found: re.Match[str]) -> str:
                word = found.group(0)
                owner = next((self._names[form] for form in (word, word.lower(), _fold(word)) if form in self._names), "")
                return person_or_someone(owner)
            scrubbed = known_names.sub(name, scrubbed)
        if held:
            scrubbed = _HELD.sub(lambda found: held[ord(found.group(1)) - _HELD_BASE], scrubbed)
        if len(self._scrubbed) > 100_000:
            self._scrubbed.clear()
        self._scrubbed[(names, text)] = scrubbed
        return scrubbed

    def names(self) -> dict[str, list[str]]:
        """Every pseudonym given so far -> the names as written that got it (A to Z)."""
        return {label: sorted(written) for label, written in sorted(self._written.items())}


__all__ = ["ACCOUNT", "A_DOMAIN", "CODE_BYTES", "GroupName", "SOMEONE", "MIN_KEY_LENGTH", "NO_KEY", "PERSON", "PSEUDONYM_KEY_VARIABLE", "Person", "Pseudonyms",
           "key_from", "normalised"]
