"""Negative-note detection for free-text interaction notes (es / pt / en), as DuckDB SQL.

The rules live in a lexicon file (models/lexicon/sentiment.yaml: negators, negative words and
phrases, positive words that turn negative after a negator). `negative_note_sql` compiles it into
one SQL expression (two RE2 regexes on the lower-cased, accent-folded text) so a million notes are
classified inside the feature query; `classify_notes` runs that same expression on a list of strings.
No model download, no network: extend the lexicon from real notes instead.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

DEFAULT_LEXICON_PATH = Path(__file__).parent / "lexicon" / "sentiment.yaml"
_ENTRY = re.compile(r"^[a-z0-9']+\*?$")
_APOSTROPHES = "’‘´`"
_APOSTROPHE = "['" + _APOSTROPHES + "]"  # regex class: any apostrophe variant in a note
_WORD_CHAR = r"[\w'" + _APOSTROPHES + "]"
# A negator + its nearest sentiment word become " NEG_<positive word> " (or " NEG_ " if the word was
# negative). Notes are lower-cased before matching, so the upper-case marker cannot occur in a note.
_MARKER = r" NEG_\1 "
_LIST_KEYS = ("negators", "negative", "negative_phrases", "positive")
_INT_KEYS = ("negation_window_words", "phrase_gap_words")


@dataclass(frozen=True)
class Lexicon:
    """Accent-folded, lower-cased lexicon entries ("word" or "stem*"); phrases are entry tuples."""

    negators: tuple[str, ...]
    negative: tuple[str, ...]
    negative_phrases: tuple[tuple[str, ...], ...]
    positive: tuple[str, ...]
    negation_window_words: int = 3
    phrase_gap_words: int = 3


def fold_text(text: str) -> str:
    """Lower-case and strip accents as the SQL side does; apostrophe variants become '."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return folded.translate({ord(ch): "'" for ch in _APOSTROPHES})


def load_lexicon(path: str | Path | None = None) -> Lexicon:
    """Read and validate a lexicon YAML file (default: the packaged sentiment.yaml)."""
    path = Path(path) if path is not None else DEFAULT_LEXICON_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"Lexicon file {path} does not exist.") from None
    if not isinstance(data, dict):
        raise ValueError(f"Lexicon file {path} must be a YAML mapping with keys {', '.join(_LIST_KEYS)}.")
    for key in _LIST_KEYS:
        if key not in data:
            raise ValueError(f"Lexicon file {path} is missing the key '{key}'.")
    ints = {}
    for key in _INT_KEYS:
        value = data.get(key, 3)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10:
            raise ValueError(f"Lexicon file {path}: '{key}' must be an integer from 0 to 10, got {value!r}.")
        ints[key] = value
    phrases = tuple(tuple(p.split()) for p in _entries(data, "negative_phrases", path, phrase=True))
    return Lexicon(
        negators=_entries(data, "negators", path),
        negative=_entries(data, "negative", path),
        negative_phrases=phrases,
        positive=_entries(data, "positive", path),
        **ints,
    )


def _entries(data: dict, key: str, path: Path, phrase: bool = False) -> tuple[str, ...]:
    """Flatten a list or a {language: list} mapping into unique folded entries, validating each."""
    groups = data[key]
    lists = list(groups.values()) if isinstance(groups, dict) else [groups]
    if not all(isinstance(g, list) for g in lists) or not any(lists):
        raise ValueError(f"Lexicon file {path}: '{key}' must be a non-empty list or a mapping of lists.")
    entries: list[str] = []
    for item in (x for g in lists for x in g):
        if not isinstance(item, str):
            raise ValueError(f"Lexicon file {path}: entry {item!r} in '{key}' is not text (quote words like \"no\").")
        folded = " ".join(fold_text(item).split())
        tokens = folded.split(" ") if phrase else [folded]
        if not all(_ENTRY.match(t) for t in tokens) or (phrase and len(tokens) < 2):
            kind = "two or more words/stems" if phrase else "one word or stem"
            raise ValueError(
                f"Lexicon file {path}: entry {item!r} in '{key}' must be {kind} (letters, digits, ' and a final *).")
        if folded not in entries:
            entries.append(folded)
    return tuple(entries)


def _alternation(entries: tuple[str, ...]) -> str:
    """One regex group matching any entry as a whole word, or any word starting with a stem*."""
    def literal(text: str) -> str:
        return re.escape(text).replace("'", _APOSTROPHE)

    alts = [literal(e[:-1]) + _WORD_CHAR + "*" if e.endswith("*") else literal(e) + r"\b" for e in entries]
    return r"\b(?:" + "|".join(alts) + ")"


def _gap(max_words: int, lazy: bool = False) -> str:
    """Whitespace with up to max_words words in between (fewest first if lazy); punctuation breaks it."""
    return r"(?:\s+" + _WORD_CHAR + "+){0," + str(max_words) + "}" + ("?" if lazy else "") + r"\s+"


def compile_patterns(lexicon: Lexicon) -> tuple[str, str]:
    """Return the (negation, negative) RE2 patterns.

    `negation` matches a negator plus the nearest sentiment word after it; it is replaced by
    " NEG_word " when that word is positive ("no funciona" -> "NEG_funciona") and by " NEG_ " when
    it is negative, which cancels it ("sin problemas"). `negative` then finds a marker with a word,
    an un-negated negative word, or a negative phrase.
    """
    negative_words = _alternation(lexicon.negative)
    negation = (_alternation(lexicon.negators) + _gap(lexicon.negation_window_words, lazy=True)
                + "(?:(" + _alternation(lexicon.positive) + ")|" + negative_words + ")")
    phrases = [_gap(lexicon.phrase_gap_words).join(_alternation((t,)) for t in p) for p in lexicon.negative_phrases]
    negative = "|".join([r"NEG_\w", negative_words, *phrases])
    return negation, negative


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def negative_note_sql(column: str, lexicon: Lexicon | None = None) -> str:
    """SQL BOOLEAN expression (never NULL) that is true when the note in `column` reads as negative."""
    lexicon = lexicon if lexicon is not None else load_lexicon()
    negation, negative = compile_patterns(lexicon)
    folded = f"lower(strip_accents(CAST({column} AS VARCHAR)))"
    marked = f"regexp_replace({folded}, {_sql_literal(negation)}, {_sql_literal(_MARKER)}, 'g')"
    return f"coalesce(regexp_matches({marked}, {_sql_literal(negative)}), false)"


def classify_notes(texts: list[str | None], lexicon: Lexicon | None = None) -> list[bool]:
    """Classify notes with the same SQL the feature query uses (on a throwaway in-memory DuckDB)."""
    if not texts:
        return []
    expr = negative_note_sql("note_text", lexicon)
    query = (
        f"SELECT {expr} FROM (SELECT unnest($texts) AS note_text, unnest(range(len($texts))) AS i) ORDER BY i"
    )
    with duckdb.connect() as con:
        rows = con.execute(query, {"texts": list(texts)}).fetchall()
    return [bool(r[0]) for r in rows]
