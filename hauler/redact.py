"""Secrets out of everything Hauler writes or raises: URLs, texts, argument structures.

One place for the rule (STYLE 10): a password in a URL's userinfo, a query value whose
key names a secret (``apikey``, ``token``, ``password``…), a mapping value under such a
key, and any configured secret registered with :func:`register_secret` become ``***``.
Results, dead letters, activity rows, log lines and exception messages go through here.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

MASK = "***"

#: Names (compared lower-case, ``-`` read as ``_``) whose values are secrets.
SECRET_KEYS = frozenset(
    {
        "apikey",
        "api_key",
        "access_token",
        "auth",
        "authorization",
        "client_secret",
        "nzbkey",
        "pass",
        "passwd",
        "password",
        "private_token",
        "refresh_token",
        "secret",
        "secret_key",
        "session",
        "sid",
        "sig",
        "signature",
        "token",
        "x_amz_credential",
        "x_amz_security_token",
        "x_amz_signature",
    }
)

# A URL inside free text: scheme://… up to whitespace or a closing quote/bracket. The
# scheme is bounded (and must start a word) so that a long run of letters is linear.
_URL_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^\s'\"<>()\[\]{}]+"
)
# key=value or key: value pairs in free text, e.g. "apikey=abc" or "token: abc".
_PAIR_IN_TEXT = re.compile(
    r"(?i)\b("
    + "|".join(sorted((re.escape(k) for k in SECRET_KEYS), key=len, reverse=True))
    + r")(\s*[=:]\s*)([^\s&,;'\"]+)"
)
# aria2's RPC secret travels as a "token:SECRET" parameter.
_ARIA2_TOKEN = re.compile(r"token:[^\s'\",\]]+")

_registered: set[str] = set()


def is_secret_key(key: str) -> bool:
    """True when a mapping key or query parameter named ``key`` holds a secret."""
    return key.lower().replace("-", "_") in SECRET_KEYS


def register_secret(*values: str | None) -> None:
    """Remember configured secrets (API keys, passwords) to mask wherever they appear.

    Values shorter than 4 characters are ignored: masking them would garble ordinary text.
    """
    for value in values:
        if value and len(value) >= 4:
            _registered.add(value)


def registered_secrets() -> Iterable[str]:
    """The secrets registered so far (longest first, so overlapping ones mask whole)."""
    return sorted(_registered, key=len, reverse=True)


def redact_url(url: str) -> str:
    """``url`` with its password and secret query values replaced by ``***``.

    Not a URL, or nothing secret in it: returned as given.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text_plain(url)
    if not parts.scheme or (not parts.netloc and not parts.query):
        return redact_text_plain(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        if has_password:
            netloc = f"{quote(user, safe='%')}:{MASK}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_key(k) for k, _ in pairs):
            query = urlencode([(k, MASK if is_secret_key(k) else v) for k, v in pairs], safe="*")
    result = urlunsplit(parts._replace(netloc=netloc, query=query))
    return redact_text_plain(result)


def redact_text_plain(text: str) -> str:
    """``text`` with registered secrets, ``key=value`` secrets and aria2 tokens masked."""
    for secret in registered_secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    text = _ARIA2_TOKEN.sub(f"token:{MASK}", text)
    return _PAIR_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def redact_text(text: str) -> str:
    """Free text (an exception message, a log line) with every secret in it masked."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return redact_text_plain(text)


def redact(value: Any) -> Any:
    """A copy of ``value`` (JSON-like) with secrets masked: strings, lists, mappings.

    A mapping value under a secret key is masked whole; strings are read as text.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and is_secret_key(k) and v else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


#: Longest text an exception keeps in each argument once it has been redacted.
MAX_EXCEPTION_TEXT = 2000
_TEXT_ATTRIBUTES = ("reason", "msg", "strerror", "filename", "filename2", "url")


def redact_exception(exc: BaseException, limit: int = MAX_EXCEPTION_TEXT) -> BaseException:
    """Mask secrets in ``exc`` and the exceptions it was raised from, in place; return it.

    Only an exception whose text changes is touched: its ``args`` (strings redacted and
    cut at ``limit`` characters; other values that render a secret become their redacted
    text) and its string attributes, so ``str(exc)``, a result backend, a log line and a
    dead letter all see the redacted text.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        _redact_one(current, limit)
        current = current.__cause__ or current.__context__
    return exc


def _redact_one(exc: BaseException, limit: int) -> None:
    try:
        original = str(exc)
    except Exception:  # an exception that cannot render itself has nothing to show
        return
    if redact_text(original) == original and len(original) <= limit:
        return
    exc.args = tuple(_redacted_arg(arg, limit) for arg in exc.args)
    names = {*_TEXT_ATTRIBUTES, *getattr(exc, "__dict__", {})}
    for name in names:
        value = getattr(exc, name, None)
        if isinstance(value, str):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(exc, name, _cut(redact_text(value), limit))


def _redacted_arg(arg: Any, limit: int) -> Any:
    if isinstance(arg, str):
        return _cut(redact_text(arg), limit)
    if arg is None or isinstance(arg, bool | int | float):
        return arg
    try:
        shown = str(arg)
    except Exception:
        return arg
    cleaned = _cut(redact_text(shown), limit)
    return cleaned if cleaned != shown else arg


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit] + f"…[truncated, {len(value)} chars]"
