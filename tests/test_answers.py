"""Reading generated answers: every parser reads clear answers and returns None otherwise."""

from __future__ import annotations

import pytest

from reo_core.answers import (
    NUMBER_WORDS,
    normalize_answer,
    parse_agb,
    parse_count,
    parse_land_cover,
    parse_yes_no,
)
from reo_core.landcover import CLASSES


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("cropland", 40),
        ("The land cover is CROPLAND.", 40),
        ("Cultivated and managed vegetation / agriculture (cropland)", 40),
        ("urban", 50),
        ("Urban / built up", 50),
        ("It is closed forest, evergreen broad leaf.", 112),  # official name, punctuation ignored
        ("closed evergreen broadleaf forest", 112),  # short name
        ("closed evergreen broad-leaf forest", 112),  # "broad leaf" == "broadleaf"
        ("Open forest, other", 126),
        ("open sea", 200),
        ("permanent water bodies", 80),
        ("Bare or sparse vegetation", 60),
        ("40", 40),  # bare numeric code
        (" 112. ", 112),
        (40, 40),
        (111.0, 111),
    ],
)
def test_parse_land_cover_reads_names_and_codes(text, code):
    assert parse_land_cover(text) == code


def test_parse_land_cover_longest_match_wins():
    # "herbaceous wetland" (18 characters) is longer than "cropland" (8)
    assert parse_land_cover("herbaceous wetland next to cropland") == 90
    assert parse_land_cover("cropland next to herbaceous wetland") == 90


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "I cannot tell.",
        "forest",  # no class is just "forest": which one would be a guess
        "41",  # not a CGLS-LC100 code
        "255",  # no-data, not a class
        41,
        True,
    ],
)
def test_parse_land_cover_gives_none_without_a_clear_class(text):
    assert parse_land_cover(text) is None


def test_parse_land_cover_tie_between_two_classes_is_none():
    # "cropland" and "open sea" both have 8 characters: neither wins
    assert parse_land_cover("cropland or open sea") is None


def test_every_class_name_and_short_name_parses_to_its_code():
    for code, cls in CLASSES.items():
        assert parse_land_cover(cls.name) == code, cls.name
        assert parse_land_cover(cls.short_name.upper()) == code, cls.short_name


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("3", 3),
        ("three", 3),
        ("Three.", 3),
        ("There are 4 patches", 4),
        ("There are twenty-one patches.", 21),
        ("twenty one", 21),
        ("0", 0),
        ("zero patches", 0),
        ("3 (three)", 3),  # the same number twice
        ("There are 4 patches in a 25 by 25 window", 4),  # the number before "patches"
        ("I count 7 distinct patches in 2 classes", 7),  # one word between number and noun
        ("1,234", 1234),
    ],
)
def test_parse_count_reads_digits_and_words(text, count):
    assert parse_count(text) == count


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "many",
        "2.5",  # not a whole number
        "-3",  # negative
        "3 or 4 patches",  # a choice is not an answer
        "between 3 and 5 patches",  # a range neither
        "3-5 patches",
        "4 classes and 3 colours",  # two numbers, none before "patches"
    ],
)
def test_parse_count_gives_none_without_one_clear_count(text):
    assert parse_count(text) is None


def test_number_words_cover_zero_to_ninety_nine():
    assert NUMBER_WORDS["zero"] == 0
    assert NUMBER_WORDS["nineteen"] == 19
    assert NUMBER_WORDS["ninety-nine"] == 99
    assert len({v for v in NUMBER_WORDS.values()}) == 100


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Yes, there is cropland", "yes"),
        ("YES.", "yes"),
        ("No - nothing man-made here!", "no"),
        ("Agriculture.", "agriculture"),
        ("The built-up area", "built up area"),  # article dropped, hyphen -> space
        ("  An   urban  area ", "urban area"),
        ("Three fields", "3 fields"),
    ],
)
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


@pytest.mark.parametrize("text", [None, "", "  ", "...", "the"])
def test_normalize_answer_of_nothing_is_none(text):
    assert normalize_answer(text) is None


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Yes, there is cropland", "yes"),
        ("no.", "no"),
        ("Nope", None),
        ("There is cropland", None),
        ("Yesterday", None),  # a word that starts with "yes" is not "yes"
        (None, None),
    ],
)
def test_parse_yes_no(text, answer):
    assert parse_yes_no(text) == answer


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("123.4 Mg/ha", 123.4),
        ("The AGB is about 123.4 Mg/ha.", 123.4),
        ("120Mg/ha", 120.0),
        ("87 t/ha", 87.0),
        ("50 tonnes per hectare", 50.0),
        ("12.5 kg/m2", 125.0),  # 1 kg/m^2 = 10 Mg/ha
        ("12.5 kg/m²", 125.0),
        ("2000 kg/ha", 2.0),
        ("12 kg/m2 (120 Mg/ha)", 120.0),  # two statements of one value
        ("95", 95.0),  # a bare number is taken as Mg/ha
        ("AGB: 95.", 95.0),
        ("-5 Mg/ha", -5.0),  # a bad prediction is still a prediction
        ("1,234.5 Mg/ha", 1234.5),
        ("1.2e2 Mg/ha", 120.0),
    ],
)
def test_parse_agb_reads_numbers_with_units(text, value):
    assert parse_agb(text) == pytest.approx(value)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "high biomass",
        "100 to 140 Mg/ha",  # a range is not one value
        "In 2020 the AGB was 120 Mg/ha",  # two different numbers
        "12,5 Mg/ha",  # decimal comma: 12 or 12.5? not guessed
        "1e999 Mg/ha",  # infinite
    ],
)
def test_parse_agb_gives_none_without_one_clear_value(text):
    assert parse_agb(text) is None
