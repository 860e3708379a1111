"""Resident ID numbers (居民身份证号码, GB 11643-1999): check digit, construction, validation.

Rosters handed over by agencies carry each cadre's ID number (roster-format.md, `id_card`); a
mistyped number is the most common roster error, and an officer can only fix it if told what
exactly is wrong. These helpers say so in the officer's language (Chinese, or English with
``--lang en``; workflow.i18n), so the roster importer and the demo roster generator share one
implementation of the standard.

Layout of the 18 characters: 6 digits of region (行政区划代码), 8 digits of birth date YYYYMMDD,
3 digits of sequence (顺序码; the last of them odd for men, even for women), 1 check digit
(校验码, ``0``-``9`` or ``X``) computed from the first 17 with the weights of the standard.
"""

from __future__ import annotations

from datetime import date
from operator import mul

from workflow.i18n import _

ID_CARD_LENGTH = 18
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"  # indexed by the weighted sum mod 11
# the weighted sum of 17 ASCII digits taken as their byte values is this much too large: summing
# bytes is a third of the time of converting each digit with int() (a million-row import)
_ZEROS = ord("0") * sum(WEIGHTS)
MAX_SEQUENCE = 999


def check_digit(first17: str) -> str:
    """The check character of the first 17 digits: weighted sum mod 11, mapped by the standard.

    >>> check_digit("11010519491231002")
    'X'
    """
    if len(first17) != ID_CARD_LENGTH - 1 or not (first17.isascii() and first17.isdigit()):
        raise ValueError(f"need exactly 17 ASCII digits, got {first17!r}")
    return _check_character(first17)


def _check_character(first17: str) -> str:
    """`check_digit` of 17 ASCII digits, already checked."""
    total = sum(map(mul, first17.encode("ascii"), WEIGHTS)) - _ZEROS
    return CHECK_CHARACTERS[total % 11]


def make_id_card(region: str, birth: date, sequence: int, female: bool) -> str:
    """The ID number for a region code, a birth date and a sequence number 0-999.

    The sequence is the 3-digit 顺序码 as issued; its last digit is then forced to the parity the
    standard prescribes (odd for men, even for women), so two different sequences may map to
    the same number. Raises ValueError for a region that is not 6 digits or a sequence outside
    0-999.
    """
    if len(region) != 6 or not (region.isascii() and region.isdigit()):
        raise ValueError(f"region code must be 6 digits, got {region!r}")
    if not 0 <= sequence <= MAX_SEQUENCE:
        raise ValueError(f"sequence must be 0-{MAX_SEQUENCE}, got {sequence}")
    if not 1000 <= birth.year <= 9999:
        raise ValueError(f"birth year must have 4 digits, got {birth.year}")
    order = sequence - sequence % 2 + (0 if female else 1)  # at most 998 + 1
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    return first17 + check_digit(first17)


def id_card_problem(value: str, birth_date: date | None) -> str | None:
    """What is wrong with an ID number, in the officer's language; None when it is valid.

    With ``birth_date`` given, the birth date inside the number must equal it (roster-format.md:
    the ID number's birth date must match ``birth_date``). A lower-case ``x`` is accepted as the
    check character, as ID readers and people typing commonly produce it.
    """
    length = len(value)
    if length != ID_CARD_LENGTH:
        return _("身份证号码应为18位，实际为{length}位").format(length=length)
    first17, last = value[:17], value[17].upper()
    if not (first17.isascii() and first17.isdigit()):
        position = next(i for i, c in enumerate(first17, 1) if not (c.isascii() and c.isdigit()))
        return _("身份证号码前17位应全为数字，第{position}位是“{character}”").format(
            position=position, character=value[position - 1]
        )
    if not (last.isascii() and (last.isdigit() or last == "X")):
        return _("身份证号码第18位（校验码）应为数字或X，实际为“{character}”").format(
            character=value[17]
        )
    digits = first17[6:14]
    # the common case: the digits spell the (valid) birth date given
    if birth_date is None or digits != birth_date.isoformat().replace("-", ""):
        try:
            embedded = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
        except ValueError:
            return _("身份证号码第7至14位的出生日期“{digits}”不是有效日期").format(digits=digits)
        if birth_date is not None and embedded != birth_date:
            return _("身份证号码中的出生日期{embedded}与出生日期{birth}不一致").format(
                embedded=embedded.isoformat(), birth=birth_date.isoformat()
            )
    expected = _check_character(first17)
    if last != expected:
        return _("身份证号码校验码错误：第18位应为“{expected}”，实际为“{character}”").format(
            expected=expected, character=value[17]
        )
    return None
