"""The square's text rules, pure: tag normalisation and the search lexemes (no database)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.plansquare import text
from tests.scheduling.plansquare.conftest import fullwidth

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
LATIN = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def found(query: str, *texts: str) -> bool:
    """Whether a post made of `texts` matches `query`, by the same rule PostgreSQL applies."""
    index = set(text.index_lexemes(*texts))
    wanted = text.query_lexemes(query)
    return bool(wanted) and all(
        any(lexeme.startswith(want) for lexeme in index) if prefix else want in index for want, prefix in wanted
    )


def test_a_chinese_run_is_indexed_by_characters_and_overlapping_pairs():
    assert text.index_lexemes("线性代数") == sorted({"线", "性", "代", "数", "线性", "性代", "代数"})


def test_other_scripts_are_indexed_by_lower_case_words():
    assert text.index_lexemes("Linear ALGEBRA, week-2") == ["2", "algebra", "linear", "week"]


def test_mixed_text_splits_at_script_changes():
    assert text.index_lexemes("Python入门") == sorted({"python", "入", "门", "入门"})


def test_a_query_wants_every_pair_of_a_run_and_each_word_as_a_prefix():
    assert text.query_lexemes("线性代数 calc") == [("线性", False), ("性代", False), ("代数", False), ("calc", True)]
    assert text.query_lexemes("学") == [("学", False)]
    assert text.query_lexemes("!!! ...") == []


def test_full_width_forms_and_case_fold():
    assert text.index_lexemes(fullwidth("PYTHON3")) == ["python3"]
    assert text.query_lexemes(fullwidth("Calc")) == [("calc", True)]


@given(st.text(HAN, min_size=1, max_size=12), st.data())
def test_every_piece_of_a_chinese_run_finds_it(run, data):
    start = data.draw(st.integers(0, len(run) - 1))
    end = data.draw(st.integers(start + 1, len(run)))
    assert found(run[start:end], f"复习 {run} 计划")


@given(st.text(LATIN, min_size=1, max_size=15), st.data())
def test_every_prefix_of_a_word_finds_it(word, data):
    cut = data.draw(st.integers(1, len(word)))
    assert found(word[:cut], f"plan: {word} daily")


@given(st.text(HAN, min_size=2, max_size=6), st.text(HAN, min_size=2, max_size=6))
def test_a_chinese_word_absent_from_the_text_is_not_found_unless_its_pairs_are_there(word, other):
    pairs_present = all(word[i : i + 2] in other for i in range(len(word) - 1))
    assert found(word, other) == pairs_present


def test_lexemes_are_quoted_for_postgresql():
    assert text.tsvector_literal(["a'b", "c\\d"]) == "'a''b' 'c\\\\d'"
    assert text.tsquery_literal([("数学", False), ("calc", True)]) == "'数学' & 'calc':*"
    assert text.tsquery_literal([]) is None


def test_a_very_long_word_is_cut_to_a_lexeme_postgresql_accepts():
    assert text.index_lexemes("क" * 5000) == ["क" * text.WORD_MAX_CHARS]


@pytest.mark.parametrize(
    ("given_tags", "stored"),
    [
        (["Python", " python ", "PYTHON"], ["python"]),
        (["考研", "  英语  四级 "], ["考研", "英语 四级"]),
        ([fullwidth("CET")], ["cet"]),
        ([], []),
    ],
)
def test_tags_are_normalised(given_tags, stored):
    assert text.normalise_tags(given_tags) == stored


@pytest.mark.parametrize("bad", [["a" * 21], [""], ["  "], ["a", "b", "c", "d", "e", "f"], [3]])
def test_bad_tags_are_refused(bad):
    with pytest.raises(text.TagError):
        text.normalise_tags(bad)


def test_five_tags_that_normalise_to_fewer_are_fine():
    assert text.normalise_tags(["A", "a", "B", "b", "C", "c", "D", "E"]) == ["a", "b", "c", "d", "e"]
