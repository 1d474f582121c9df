"""Text rules of the plan square (docs/DOMAIN.md §10). Pure: no models, no I/O.

- Tags: NFKC, trimmed, inner whitespace collapsed, lower-case; 1-20 characters; at most 5 per
  post, duplicates dropped (first spelling kept).
- Search: Chinese (and Japanese, Korean) text has no spaces between words, so a word splitter
  finds nothing to index. Like Lucene's CJK analyzer, runs of those scripts are indexed as
  single characters plus overlapping pairs (`线性代数` → 线 性 代 数 线性 性代 代数) and other
  scripts as whole words. A query asks for every pair of each of its runs (a one-character run:
  that character) and for each word as a prefix (`calc` finds `calculus`). The lexemes become a
  PostgreSQL tsvector / tsquery literal, so the database parser never re-splits them.
"""

from __future__ import annotations

import re
import unicodedata

TAG_MAX_CHARS = 20
TAGS_MAX = 5
WORD_MAX_CHARS = 100  # a lexeme is at most 2,047 bytes; no real word is longer than this

# Scripts written without spaces: CJK ideographs (with extensions and compatibility forms),
# Bopomofo, kana and Hangul.
_UNSPACED = (
    "\u3040-\u30ff\u3100-\u312f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_TOKENS = re.compile(rf"(?P<run>[{_UNSPACED}]+)|(?P<word>[^\W_{_UNSPACED}]+)")
_SPACES = re.compile(r"\s+")


class TagError(ValueError):
    pass


def normalise(text: str) -> str:
    """Full-width letters and digits folded to ASCII (NFKC), then case folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def normalise_tag(tag: str) -> str:
    return _SPACES.sub(" ", normalise(tag)).strip()


def normalise_tags(tags) -> list[str]:
    """The stored form of a post's tags, in the order given; TagError says what is wrong."""
    result: list[str] = []
    for raw in tags:
        if not isinstance(raw, str):
            raise TagError("Each tag must be a string.")
        tag = normalise_tag(raw)
        if not 1 <= len(tag) <= TAG_MAX_CHARS:
            raise TagError(f"Each tag must be 1-{TAG_MAX_CHARS} characters.")
        if tag not in result:
            result.append(tag)
    if len(result) > TAGS_MAX:
        raise TagError(f"At most {TAGS_MAX} different tags.")
    return result


def _tokens(text: str):
    for match in _TOKENS.finditer(normalise(text)):
        if match.group("run"):
            yield "run", match.group("run")
        else:
            yield "word", match.group("word")[:WORD_MAX_CHARS]


def index_lexemes(*texts: str) -> list[str]:
    """Every lexeme the texts are found by, sorted and unique."""
    lexemes: set[str] = set()
    for text in texts:
        for kind, token in _tokens(text):
            if kind == "word":
                lexemes.add(token)
            else:
                lexemes.update(token)
                lexemes.update(token[i : i + 2] for i in range(len(token) - 1))
    return sorted(lexemes)


def query_lexemes(query: str) -> list[tuple[str, bool]]:
    """(lexeme, is_prefix) pairs a post must all match to be found by `query`, in order, unique."""
    wanted: dict[tuple[str, bool], None] = {}
    for kind, token in _tokens(query):
        if kind == "word":
            wanted[(token, True)] = None
        elif len(token) == 1:
            wanted[(token, False)] = None
        else:
            for i in range(len(token) - 1):
                wanted[(token[i : i + 2], False)] = None
    return list(wanted)


def search_terms(query: str) -> list[str]:
    """The whitespace-separated terms of a query, normalised (the substring fallback's input)."""
    return [term for term in _SPACES.split(normalise(query)) if term]


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(lexemes: list[str]) -> str:
    return " ".join(_quote(lexeme) for lexeme in lexemes)


def tsquery_literal(pairs: list[tuple[str, bool]]) -> str | None:
    """None when the query has nothing to search for (only punctuation, say)."""
    if not pairs:
        return None
    return " & ".join(_quote(lexeme) + (":*" if prefix else "") for lexeme, prefix in pairs)
