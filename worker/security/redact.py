"""Keep secrets out of events, logs, action logs and task arguments.

``redact`` returns a scrubbed deep copy of JSON-like data: values under keys that look secret
(``api_key``, ``password``, ``authorization``, …) are replaced whole, and every string is passed
through ``redact_text``, which replaces well-known credential shapes (OpenAI keys, bearer tokens,
JWTs, cloud and chat tokens, PEM private keys, ``password=…`` pairs, passwords in URLs) and any
exact occurrence of a secret the caller knows about (see ``secrets_from_environment``).

It runs on every event the worker writes, so the patterns are compiled once and numbers,
booleans and ``None`` cost nothing.
"""

from __future__ import annotations

import datetime
import numbers
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import unquote

__all__ = ["REDACTED", "looks_secret_key", "redact", "redact_text", "secrets_from_environment"]

REDACTED = "[REDACTED]"
#: A secret reference (``worker.security.secret_refs``): the one secret-looking key kept.
SECRET_REFERENCE_KEY = "$secret"

#: Known secrets shorter than this are ignored: replacing every "abc" in a text hides nothing.
MIN_KNOWN_SECRET_LENGTH = 6
#: Environment values shorter than this are not collected as secrets.
MIN_ENVIRONMENT_SECRET_LENGTH = 8

# A key is secret when, normalised (camelCase split, lower case, "-", "." and " " → "_"), it
# equals or ends with one of these. Token *counts* ("prompt_tokens", "max_tokens",
# "token_count") end differently and stay visible.
_SECRET_KEY_SUFFIXES: tuple[str, ...] = (
    "api_key",
    "apikey",
    "password",
    "passwords",
    "passwd",
    "secret",
    "secrets",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth",
    "authorization",
    "cookie",
    "set_cookie",
    "private_key",
    "privatekey",
    "credentials",
    "session_key",
    "x_api_key",
    "bearer",
)
# Environment variable names are secret on a few more endings ("AWS_SECRET_ACCESS_KEY",
# "AGENTWORKER_ENCRYPTION_KEYS", "REDIS_PASS").
_SECRET_ENV_NAME_SUFFIXES: tuple[str, ...] = (*_SECRET_KEY_SUFFIXES, "_key", "_keys", "_pass")

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_KEY_SEPARATORS = re.compile(r"[-. ]")

# --- text patterns (applied in the order of _TEXT_RULES) ------------------------------------

_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----"
    r"(?:.*?-----END[A-Z0-9 ]*PRIVATE KEY-----|.*\Z)",  # a truncated block hides the rest
    re.DOTALL,
)
_URL_PASSWORD = re.compile(
    r"(?P<prefix>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#]*:)(?P<password>[^\s/?#]+)(?=@)"
)
# "Bearer" as in an Authorization header; 8+ characters so prose ("the bearer of") stays.
_BEARER_TOKEN = re.compile(r"\b(?P<word>Bearer|BEARER)[ \t]+[A-Za-z0-9\-._~+/]{8,}=*")
_TOKEN_SHAPES = re.compile(
    "|".join(
        (
            r"\bsk-[A-Za-z0-9_\-]{16,}",  # OpenAI (sk-…, sk-proj-…) and look-alikes
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
            r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+",  # JWTs
            r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
            r"\bgithub_pat_[A-Za-z0-9_]{22,}",  # GitHub fine-grained tokens
            r"\bxox[abpr]-[A-Za-z0-9\-]{10,}",  # Slack tokens
        )
    )
)
_COOKIE_HEADER = re.compile(
    r"(?P<prefix>\b(?:set[-_])?cookie[ \t]*:[ \t]*)(?!\[REDACTED\])[^\s\"'\\][^\r\n]*",
    re.IGNORECASE,
)
_SECRET_WORDS = (
    r"api[_\-. ]?key|password|passwd|secret|token|authorization|auth|cookie"
    r"|private[_\-. ]?key|credentials|session[_\-. ]?key|bearer"
)
_SECRET_PAIR = re.compile(
    # The key starts at a word start: otherwise long words cost quadratic backtracking.
    rf"(?<![\w.\-])(?P<key>[\w.\-]*(?:{_SECRET_WORDS}))(?![\w])"
    r"(?P<separator>\\?[\"']?[ \t]*[:=][ \t]*)"
    r"(?:"  # quoted values may be cut off by truncation: the closing quote is optional
    r"(?P<double>\"(?:[^\"\\]|\\.)*\"?)"
    r"|(?P<escaped>\\\"(?:(?!\\\").)*(?:\\\")?)"
    r"|(?P<single>'[^']*'?)"
    r"|(?P<scheme>(?:bearer|basic|token|digest)\s+)?(?P<bare>[^\s,;&\"']+)"
    r")",
    re.IGNORECASE,
)


def _replace_secret_pair(match: re.Match[str]) -> str:
    key_and_separator = match.group("key") + match.group("separator")
    if match.group("double") is not None:
        return f'{key_and_separator}"{REDACTED}"'
    if match.group("escaped") is not None:
        return f'{key_and_separator}\\"{REDACTED}\\"'
    if match.group("single") is not None:
        return f"{key_and_separator}'{REDACTED}'"
    return f"{key_and_separator}{match.group('scheme') or ''}{REDACTED}"


@dataclass(frozen=True)
class _TextRule:
    """One credential shape: a pattern, its replacement, and the cheap substring test (on the
    lower-cased text) that must pass before the pattern is worth running."""

    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str]
    hints: tuple[str, ...]

    @property
    def hint_pattern(self) -> re.Pattern[str]:
        return _hint_pattern(self.hints)

    def apply(self, text: str, lowered: str) -> str:
        if not self.hint_pattern.search(lowered):
            return text
        return self.pattern.sub(self.replacement, text)


@cache
def _hint_pattern(hints: tuple[str, ...]) -> re.Pattern[str]:
    # One regex scan instead of a substring test per hint: this runs on every string written.
    return re.compile("|".join(re.escape(hint) for hint in hints))


_TEXT_RULES: tuple[_TextRule, ...] = (
    _TextRule(_PRIVATE_KEY_BLOCK, REDACTED, ("-----begin",)),
    _TextRule(_URL_PASSWORD, rf"\g<prefix>{REDACTED}", ("://",)),
    _TextRule(_BEARER_TOKEN, rf"\g<word> {REDACTED}", ("bearer",)),
    _TextRule(
        _TOKEN_SHAPES,
        REDACTED,
        (
            "sk-",
            "akia",
            "asia",
            "eyj",
            "ghp_",
            "gho_",
            "ghu_",
            "ghs_",
            "ghr_",
            "github_pat_",
            "xox",
        ),
    ),
    _TextRule(_COOKIE_HEADER, rf"\g<prefix>{REDACTED}", ("cookie",)),
    _TextRule(
        _SECRET_PAIR,
        _replace_secret_pair,
        ("key", "pass", "secret", "token", "auth", "cookie", "credential", "bearer"),
    ),
)
#: Text with none of these (lower-cased) cannot match any rule: most strings, returned at once.
_ANY_HINT = _hint_pattern(tuple(sorted({hint for rule in _TEXT_RULES for hint in rule.hints})))


def redact(value: Any, *, known_secrets: Iterable[str] = ()) -> Any:
    """A deep copy of JSON-like ``value`` with secrets replaced by ``REDACTED``.

    Dicts, lists and tuples are copied (tuples stay tuples); strings are scrubbed with
    ``redact_text``; numbers, booleans and ``None`` are returned as they are; any other object
    becomes its scrubbed ``repr``. A value under a secret-looking key is replaced whole (``None``
    stays ``None``: the absence of a secret is not a secret). The input is never mutated.
    """
    return _redact(value, _usable_known_secrets(known_secrets))


def redact_text(text: str, *, known_secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials replaced by ``REDACTED``, the surrounding text kept."""
    return _redact_text(text, _usable_known_secrets(known_secrets))


def looks_secret_key(key: str) -> bool:
    """Whether a mapping key (or header, or field name) names a secret."""
    return _normalised_key(key).endswith(_SECRET_KEY_SUFFIXES)


def secrets_from_environment(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Secret values found in the environment, for ``known_secrets``.

    Collects the values (at least 8 characters; comma-separated lists are split too, as in
    ``AGENTWORKER_ENCRYPTION_KEYS``) of variables whose name looks secret (``OPENAI_API_KEY``,
    ``*_PASSWORD``, ``*_SECRET``, ``*_TOKEN``, ``*_KEY`` …), and the password of any URL with
    credentials (``DATABASE_URL``, ``REDIS_URL``, ``CELERY_BROKER_URL`` …), raw and URL-decoded.
    """
    env = os.environ if environ is None else environ
    found: set[str] = set()
    for name, value in env.items():
        if _normalised_key(name).endswith(_SECRET_ENV_NAME_SUFFIXES):
            found.add(value.strip())
            found.update(part.strip() for part in value.split(","))
        for match in _URL_PASSWORD.finditer(value):
            password = match.group("password")
            found.update((password, unquote(password)))
    return frozenset(s for s in found if len(s) >= MIN_ENVIRONMENT_SECRET_LENGTH)


# --- internals --------------------------------------------------------------------------------

#: Immutable values that cannot carry a secret: returned as they are, not as their repr.
_SCALARS_WITHOUT_TEXT = (
    numbers.Number,  # bool, int, float, Decimal, …
    uuid.UUID,
    datetime.date,  # and datetime
    datetime.time,
    datetime.timedelta,
)


def _redact(value: Any, known_secrets: tuple[str, ...]) -> Any:
    if value is None or isinstance(value, _SCALARS_WITHOUT_TEXT):
        return value
    if isinstance(value, str):
        return _redact_text(value, known_secrets)
    if isinstance(value, Mapping):
        if _is_reference(value):
            # {"$secret": "tenant:crm"} names a secret without holding it: keep the name.
            return {SECRET_REFERENCE_KEY: _redact_text(value[SECRET_REFERENCE_KEY], known_secrets)}
        return {
            _redact_key(key, known_secrets): _redact_entry(key, item, known_secrets)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item, known_secrets) for item in value]
    if isinstance(value, tuple):
        return tuple(_redact(item, known_secrets) for item in value)
    return _redact_text(repr(value), known_secrets)


def _is_reference(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) == 1
        and isinstance(value.get(SECRET_REFERENCE_KEY), str)
    )


def _redact_key(key: Any, known_secrets: tuple[str, ...]) -> Any:
    if not isinstance(key, str):
        return key
    # The same few keys come back in every event: remember short ones.
    return (
        _redact_short_text(key, known_secrets)
        if len(key) <= 64
        else _redact_text(key, known_secrets)
    )


@lru_cache(maxsize=4096)
def _redact_short_text(text: str, known_secrets: tuple[str, ...]) -> str:
    return _redact_text(text, known_secrets)


def _redact_entry(key: Any, item: Any, known_secrets: tuple[str, ...]) -> Any:
    if item is not None and isinstance(key, str) and looks_secret_key(key):
        return _redact(item, known_secrets) if _is_reference(item) else REDACTED
    return _redact(item, known_secrets)


def _redact_text(text: str, known_secrets: tuple[str, ...]) -> str:
    for secret in known_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    lowered = text.lower()
    if not _ANY_HINT.search(lowered):
        return text
    for rule in _TEXT_RULES:
        redacted = rule.apply(text, lowered)
        if redacted != text:
            text, lowered = redacted, redacted.lower()
    return text


def _usable_known_secrets(known_secrets: Iterable[str]) -> tuple[str, ...]:
    """Distinct secrets worth replacing, longest first so a secret inside another goes too."""
    if isinstance(known_secrets, str):
        raise TypeError("known_secrets must be a collection of strings, not one string")
    usable = {
        secret
        for secret in known_secrets
        if len(secret) >= MIN_KNOWN_SECRET_LENGTH and secret not in REDACTED
    }
    return tuple(sorted(usable, key=len, reverse=True))


@lru_cache(maxsize=4096)
def _normalised_key(key: str) -> str:
    return _KEY_SEPARATORS.sub("_", _CAMEL_BOUNDARY.sub("_", key)).lower()


_KNOWN_SECRETS = secrets_from_environment()


def scrub(value: Any) -> Any:
    """``value`` redacted, with the secrets found in this process's environment."""
    return redact(value, known_secrets=_KNOWN_SECRETS)


def scrub_text(text: str) -> str:
    return redact_text(text, known_secrets=_KNOWN_SECRETS)
