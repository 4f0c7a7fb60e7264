"""Guessability warnings: sequential, shared-prefix, low-entropy and short codes."""

from __future__ import annotations

import secrets

from codes.importing.analysis import Analyzer
from codes.importing.generator import GeneratorOptions, generate


def analyse(values):
    a = Analyzer()
    for v in values:
        a.feed(v)
    return " ".join(a.warnings())


def test_sequential_codes_are_flagged():
    assert "sequential" in analyse([f"GIFT-{n}" for n in range(1000, 1100)])


def test_shuffled_arithmetic_sequence_is_flagged():
    values = [f"KEY{n * 7}" for n in range(100, 300)]
    secrets.SystemRandom().shuffle(values)
    assert "sequential" in analyse(values)


def test_shared_prefix_with_a_short_varying_part_is_flagged():
    values = ["ACME-PROMO-2026-" + secrets.token_hex(2).upper() for _ in range(50)]
    assert "differ only in the last 4" in analyse(values)


def test_low_entropy_is_flagged():
    values = ["".join(secrets.choice("AB") for _ in range(10)) for _ in range(200)]
    assert "bits of randomness" in analyse(values)


def test_short_codes_are_flagged():
    assert "shorter than 6 characters" in analyse(["AB12", "CD34"])


def test_random_codes_raise_no_warning():
    values = list(generate(GeneratorOptions(count=500)))
    assert analyse(values) == ""
