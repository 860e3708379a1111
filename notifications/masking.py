"""Masking of personal numbers before they reach a log, a terminal or a stored error.

Cadres' mobile numbers and resident ID numbers are personal information: notices carry them to
their recipient, but the dispatcher's logs, ``notifications list`` and the errors a mail or
webhook server sends back are read by people who only need to tell messages apart. The masks
follow the common Chinese practice: ``138****0000`` and ``371502********0013``. A landline
(``0635-6212345``, ``(010)12345678``, ``+86 635 6212345``) keeps its area code and last four
digits: ``0635-***2345``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

# A mainland mobile number: 1, then 3-9, then nine digits; optionally +86 / 86 in front and
# written as 3-4-4 with spaces or hyphens. Not part of a longer run of digits.
_MOBILE = re.compile(r"(?<!\d)((?:\+?86[ -]?)?)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
# A resident ID number (GB 11643): 17 digits and a digit or X check character.
_ID_CARD = re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dXx])(?!\d)")
# A landline: area code 0 + 2-3 digits (or +86 and the code without its 0), optionally in
# brackets, then a 7- or 8-digit number, its last four kept. Not part of a longer number.
_LANDLINE = re.compile(
    r"(?<!\d)((?:\+?86[ -]?\(?0?|\(?0)[1-9]\d{1,2}\)?)([ -]?)(\d{3,4})([ -]?\d{4})(?!\d)"
)
_EMAIL = re.compile(r"^([^@\s])[^@\s]*(@[^@\s]+)$")


def mask_phone(phone: str) -> str:
    """``13800000000`` -> ``138****0000``; anything else (a landline too) is masked as free
    text."""
    digits = re.sub(r"[ -]", "", phone)
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return f"{digits[:3]}****{digits[-4:]}"
    return mask_text(phone)


def mask_id_card(number: str) -> str:
    """``371502194603120017`` -> ``371502********0017``: the region stays, the birth date goes."""
    if len(number) == 18:
        return f"{number[:6]}********{number[-4:]}"
    return mask_text(number)


def mask_text(text: str) -> str:
    """Every mobile, landline and ID number inside ``text`` masked; the rest left as it is.

    ID numbers go first: an 18-digit run must not lose only an 11-digit slice of itself; then
    mobiles, whose masked form no landline pattern matches.
    """
    text = _ID_CARD.sub(lambda m: f"{m[1]}********{m[3][-4:]}", text)
    text = _MOBILE.sub(lambda m: f"{m[1]}{m[2]}****{m[4]}", text)
    return _LANDLINE.sub(lambda m: f"{m[1]}{m[2]}{'*' * len(m[3])}{m[4]}", text)


def mask_address(address: str | None) -> str:
    """An outbox address as ``notifications list`` shows it.

    E-mail keeps its first letter and domain (enough to tell two recipients apart), a URL loses
    its user, password and query (where webhook tokens live), and any number left is masked.
    """
    if not address:
        return ""
    if "://" in address:
        parts = urlsplit(address)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        query = "***" if parts.query else ""
        return mask_text(urlunsplit((parts.scheme, host, parts.path, query, "")))
    email = _EMAIL.match(address)
    if email:
        return f"{email[1]}***{email[2]}"
    return mask_text(address)
