"""The random code generator: defaults, options, and refusing guessable settings."""

from __future__ import annotations

import pytest

from codes.importing.generator import (
    ALPHABETS,
    GeneratorOptions,
    GeneratorOptionsError,
    generate,
)


def test_generator_defaults_are_crockford_base32_groups_of_five():
    values = list(generate(GeneratorOptions(count=100)))
    assert len(set(values)) == 100
    for v in values:
        groups = v.split("-")
        assert [len(g) for g in groups] == [5, 5, 5, 5, 5]
        assert set("".join(groups)) <= set(ALPHABETS["crockford"])


def test_generator_options_prefix_alphabet_and_length():
    values = list(
        generate(
            GeneratorOptions(
                count=10, length=12, group=4, alphabet="digits", prefix="ACME-"
            )
        )
    )
    assert all(v.startswith("ACME-") and len(v) == 5 + 14 for v in values)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (GeneratorOptions(count=10, length=8, alphabet="digits"), "length"),
        (GeneratorOptions(count=10, alphabet="klingon"), "alphabet"),
        (GeneratorOptions(count=10, prefix="<b>"), "prefix"),
        (GeneratorOptions(count=0), "count"),
    ],
)
def test_generator_refuses_bad_options_naming_the_field(options, field):
    with pytest.raises(GeneratorOptionsError) as refused:
        options.validate(max_count=1000)
    assert refused.value.field == field
    assert refused.value.message
