"""Check digits and formats of the identifiers a transaction report carries.

Each check is the standard's own algorithm, so a mistyped code is caught before a regulator
rejects the report:

* **LEI** — ISO 17442: 18 alphanumeric characters then two check digits computed by
  ISO/IEC 7064 MOD 97-10 (the IBAN scheme): letters become 10..35 and the whole number
  mod 97 must equal 1.
* **ISIN** — ISO 6166: a two-letter country code, a nine-character national number and a
  check digit; letters become 10..35 and the Luhn (mod 10 "double-add-double") sum of the
  digit string, check digit included, must be a multiple of 10.
* **MIC** — ISO 10383: four upper-case alphanumerics; ``XOFF`` (off venue) and ``XXXX``
  (not on a venue) are the codes RTS 22 field 36 prescribes for OTC trades.
* **CFI** — ISO 10962:2019: six upper-case letters, a category, a group valid for that
  category, then four attribute letters (``X`` where not applicable).
"""

from __future__ import annotations

import re

_LEI = re.compile(r"^[A-Z0-9]{18}[0-9]{2}$")
_ISIN = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
_MIC = re.compile(r"^[A-Z0-9]{4}$")
_CFI = re.compile(r"^[A-Z]{6}$")

#: ISO 10962:2019 categories and the groups each admits (the standard's table 1 and the
#: group tables of its clause 6).
CFI_GROUPS: dict[str, str] = {
    "E": "SPCFLDYM",  # equities
    "C": "IHBESFPM",  # collective investment vehicles
    "D": "BCWTYSEGANDM",  # debt instruments
    "R": "ASPWFDM",  # entitlements (rights)
    "O": "CPM",  # listed options
    "F": "FC",  # futures
    "S": "RTECFM",  # swaps
    "H": "RTECFM",  # non-listed and complex listed options
    "I": "FTROM",  # spots
    "J": "EFCRT",  # forwards
    "K": "RTECFM",  # strategies
    "L": "LRS",  # financing
    "T": "CTRIBDM",  # referential instruments
    "M": "CM",  # others (miscellaneous)
}


def _letters_to_digits(code: str) -> str:
    """Each letter as its two-digit value (A=10 … Z=35), digits unchanged."""
    return "".join(str(int(ch, 36)) for ch in code)


def lei_valid(code: str) -> bool:
    """True when ``code`` is a well-formed ISO 17442 LEI with correct check digits."""
    return bool(_LEI.match(code)) and int(_letters_to_digits(code)) % 97 == 1


def lei_check_digits(prefix18: str) -> str:
    """The two check digits completing an 18-character LEI prefix (ISO 7064 MOD 97-10)."""
    if not re.fullmatch(r"[A-Z0-9]{18}", prefix18):
        raise ValueError(f"an LEI prefix is 18 upper-case alphanumerics, got {prefix18!r}")
    return f"{98 - int(_letters_to_digits(prefix18) + '00') % 97:02d}"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, ch in enumerate(reversed(digits)):
        d = int(ch)
        if position % 2 == 1:  # every second digit from the right, the check digit first
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return total % 10 == 0


def isin_valid(code: str) -> bool:
    """True when ``code`` is a well-formed ISO 6166 ISIN with a correct check digit."""
    return bool(_ISIN.match(code)) and _luhn_ok(_letters_to_digits(code))


def isin_check_digit(prefix11: str) -> str:
    """The check digit completing an 11-character ISIN prefix."""
    if not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{9}", prefix11):
        raise ValueError(f"an ISIN prefix is 2 letters and 9 alphanumerics, got {prefix11!r}")
    return next(d for d in "0123456789" if _luhn_ok(_letters_to_digits(prefix11) + d))


def mic_valid(code: str) -> bool:
    """True when ``code`` has the ISO 10383 MIC form (``XOFF``/``XXXX`` included)."""
    return bool(_MIC.match(code))


def cfi_valid(code: str) -> bool:
    """True when ``code`` is six letters whose category and group ISO 10962 defines."""
    return bool(_CFI.match(code)) and code[1] in CFI_GROUPS.get(code[0], "")
