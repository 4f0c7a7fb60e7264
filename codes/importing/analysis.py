"""Guessability analysis of a batch: the help page says codes must be random and
not easy to guess from one another. This makes that visible to sellers and staff.

It reads the first SAMPLE_SIZE accepted codes in file order (sequences show up
in order) plus the length of every code, so memory stays constant.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections import Counter

from django.utils.translation import gettext as _

SAMPLE_SIZE = 5000
MIN_LENGTH = 6
MIN_BITS = 40
TRAILING_NUMBER_RE = re.compile(r"^(.*?)(\d+)$")


class Analyzer:
    def __init__(self) -> None:
        self.sample: list[str] = []
        self.count = 0
        self.short = 0
        self.min_length: int | None = None

    def feed(self, value: str) -> None:
        self.count += 1
        if len(value) < MIN_LENGTH:
            self.short += 1
        if self.min_length is None or len(value) < self.min_length:
            self.min_length = len(value)
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append(value)

    def feed_many(self, values: list[str]) -> None:
        """`feed` for a chunk of values, in order: the same result, without a call each."""
        if not values:
            return
        lengths = list(map(len, values))
        self.count += len(values)
        self.short += sum(1 for n in lengths if n < MIN_LENGTH)
        shortest = min(lengths)
        if self.min_length is None or shortest < self.min_length:
            self.min_length = shortest
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.extend(values[: SAMPLE_SIZE - len(self.sample)])

    def warnings(self) -> list[str]:
        found: list[str] = []
        if self.short:
            found.append(
                _(
                    "%(count)s code(s) are shorter than %(min)d characters: short codes are easy to guess."
                )
                % {"count": f"{self.short:,}", "min": MIN_LENGTH}
            )
        if len(self.sample) < 2:
            return found
        sequence = _sequence_step(self.sample)
        if sequence is not None:
            found.append(
                _(
                    "Codes look sequential (each differs from the previous by %(step)s): anyone with one code could guess others."
                )
                % {"step": sequence}
            )
        prefix = len(os.path.commonprefix(self.sample))  # noqa: RUF071 - a character prefix of codes is what we want
        shortest = min(len(v) for v in self.sample)
        if prefix >= 4 and shortest - prefix <= 6:
            found.append(
                _(
                    "All codes share their first %(prefix)d characters and differ only in the last %(rest)d: the varying part is short."
                )
                % {"prefix": prefix, "rest": shortest - prefix}
            )
        if len(self.sample) >= 20:
            bits = _estimated_bits(self.sample, prefix)
            if bits < MIN_BITS:
                found.append(
                    _(
                        "The varying part of the codes carries about %(bits).0f bits of randomness (under %(min)d): they could be guessed. Use the generator or longer random codes."
                    )
                    % {"bits": bits, "min": MIN_BITS}
                )
        near = _near_duplicates(self.sample)
        if near > max(2, len(self.sample) // 100):
            found.append(
                _(
                    "%(count)s pairs of codes (in the first %(sample)s) differ by a single character: codes should not be derived from one another."
                )
                % {"count": f"{near:,}", "sample": f"{len(self.sample):,}"}
            )
        return found


def _sequence_step(sample: list[str]) -> int | None:
    """The common step if most codes are prefix + number in arithmetic progression."""
    numbers: list[tuple[str, int]] = []
    for value in sample:
        m = TRAILING_NUMBER_RE.match(value)
        if m:
            numbers.append((m.group(1), int(m.group(2))))
    if len(numbers) < max(2, int(0.8 * len(sample))):
        return None
    for ordered in (numbers, sorted(numbers)):
        steps = Counter(
            b[1] - a[1] for a, b in itertools.pairwise(ordered) if a[0] == b[0]
        )
        if steps:
            step, hits = steps.most_common(1)[0]
            if step != 0 and hits >= 0.5 * (len(ordered) - 1):
                return step
    return None


def _estimated_bits(sample: list[str], prefix: int) -> float:
    varying = [v[prefix:] for v in sample]
    alphabet = len(set("".join(varying)))
    if alphabet < 2:
        return 0.0
    length = sorted(len(v) for v in varying)[len(varying) // 2]
    changing = 0
    for pos in range(length):
        if len({v[pos] for v in varying if len(v) > pos}) > 1:
            changing += 1
    return changing * math.log2(alphabet)


def _near_duplicates(sample: list[str]) -> int:
    ordered = sorted(sample)
    count = 0
    for a, b in itertools.pairwise(ordered):
        if len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1:
            count += 1
    return count
