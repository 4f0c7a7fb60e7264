"""Cryptographically random codes (`secrets`), grouped for humans to read."""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from distribly.errors import FieldError

ALPHABETS = {
    # Crockford base32: no I, L, O, U, so nothing is mistaken when read aloud or typed.
    "crockford": "0123456789ABCDEFGHJKMNPQRSTVWXYZ",
    "digits": "0123456789",
    "hex": "0123456789ABCDEF",
    # Letters and digits without the look-alikes 0/O, 1/I/L.
    "alnum": "23456789ABCDEFGHJKMNPQRSTUVWXYZ",
}
ALPHABET_CHOICES = [
    ("crockford", gettext_lazy("Letters and digits, unambiguous (Crockford base32)")),
    ("alnum", gettext_lazy("Letters and digits without look-alikes")),
    ("digits", gettext_lazy("Digits only")),
    ("hex", gettext_lazy("Hexadecimal")),
]
DEFAULT_ALPHABET = "crockford"
DEFAULT_LENGTH = 25  # 125 bits in base32
DEFAULT_GROUP = 5
MIN_BITS = 40

# Crockford's decoding rules: case does not matter, O is read as 0, I and L as 1.
# Only these ASCII letters, mapped before upper-casing: the dotless i (U+0131)
# upper-cases to "I" but is no copy of "1".
_CROCKFORD_READS = str.maketrans("oOiIlL", "001111")
# What people type or paste between groups: spaces (also no-break ones) and dashes.
_SEPARATORS_RE = re.compile(r"[\s\-\u2010-\u2015\u2212]+")


class GeneratorOptionsError(FieldError, ValueError):
    """Options that would make weak or colliding codes; names the option."""


@dataclass(frozen=True)
class GeneratorOptions:
    count: int
    length: int = DEFAULT_LENGTH
    group: int = DEFAULT_GROUP
    alphabet: str = DEFAULT_ALPHABET
    prefix: str = ""

    @property
    def bits(self) -> float:
        return self.length * math.log2(len(ALPHABETS[self.alphabet]))

    def validate(self, *, max_count: int) -> None:
        """Refuse options that make weak or colliding codes. Messages name the field."""
        if self.alphabet not in ALPHABETS:
            raise GeneratorOptionsError(
                "alphabet",
                _("choose one of %(names)s") % {"names": ", ".join(ALPHABETS)},
            )
        if not 1 <= self.count <= max_count:
            raise GeneratorOptionsError(
                "count", _("must be between 1 and %(max)s") % {"max": f"{max_count:,}"}
            )
        if not 4 <= self.length <= 64:
            raise GeneratorOptionsError(
                "length", _("must be between 4 and 64 characters")
            )
        if not 0 <= self.group <= 64:
            raise GeneratorOptionsError(
                "group", _("must be between 0 (no grouping) and 64")
            )
        if len(self.prefix) > 40 or not all(
            ch.isalnum() or ch in "-_" for ch in self.prefix
        ):
            raise GeneratorOptionsError(
                "prefix", _("up to 40 letters, digits, '-' or '_'")
            )
        if self.prefix and not self.prefix[0].isalnum():
            raise GeneratorOptionsError(
                "prefix", _("must start with a letter or digit")
            )
        # Guessable codes are refused, and the space must be large enough that random
        # codes of one batch practically never collide (birthday bound ~2^-20).
        needed = max(MIN_BITS, 2 * math.log2(max(self.count, 1)) + 20)
        if self.bits < needed:
            raise GeneratorOptionsError(
                "length",
                _(
                    "%(length)d characters of this alphabet give %(bits).0f bits; "
                    "%(count)s codes need at least %(needed).0f. Use longer codes."
                )
                % {
                    "length": self.length,
                    "bits": self.bits,
                    "count": f"{self.count:,}",
                    "needed": needed,
                },
            )
        if self.display_length > 255:
            raise GeneratorOptionsError(
                "length", _("the generated code would exceed 255 characters")
            )

    @property
    def display_length(self) -> int:
        groups = math.ceil(self.length / self.group) if self.group else 1
        return len(self.prefix) + self.length + (groups - 1)

    def as_dict(self) -> dict[str, object]:
        return {
            "count": self.count,
            "length": self.length,
            "group": self.group,
            "alphabet": self.alphabet,
            "prefix": self.prefix,
        }


def generate(options: GeneratorOptions) -> Iterator[str]:
    alphabet = ALPHABETS[options.alphabet]
    choice = secrets.choice
    for _n in range(options.count):
        raw = "".join(choice(alphabet) for _i in range(options.length))
        if options.group:
            raw = "-".join(
                raw[i : i + options.group] for i in range(0, len(raw), options.group)
            )
        yield options.prefix + raw


def crockford_canonical(value: str) -> str:
    """How a copy of a generated Crockford code reads: confusable letters as their
    digits (O as 0, I and L as 1), upper case, and each run of spaces or dashes as the
    generator's one hyphen, so the grouping stays as typed.

    A generated Crockford code is its own canonical form (unless its prefix holds
    O, I, L or lower case). Look-ups only: imports never store this form.
    """
    return _SEPARATORS_RE.sub("-", value.translate(_CROCKFORD_READS).upper())


def crockford_regrouped(value: str) -> str:
    """The canonical symbols without the copy's separators, grouped as the generator
    groups them by default: a copy typed without hyphens (or with them misplaced)."""
    symbols = crockford_canonical(value).replace("-", "")
    return "-".join(
        symbols[i : i + DEFAULT_GROUP] for i in range(0, len(symbols), DEFAULT_GROUP)
    )
