"""Rank the rows of a frame by how well their text fields match a search string.

This is the ranking behind ``Registry.search()`` (query spec §4.4), written as
Polars expressions: a row is a hit when one of the searched fields contains the
query, and hits are ordered by points summed over the fields. On top of the spec,
rows that contain the query with a typo are appended after the literal hits when
there are fewer literal hits than the limit.

Large frames stay cheap because the frame is scanned once, with a test that can
only err towards keeping a row: ASCII case folding through Aho-Corasick, which is
exact on ASCII text. Exact Unicode folding, scoring and typo matching then run on
the few candidate rows only.
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING, NamedTuple

import polars as pl

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["SCORE_COLUMN", "rank"]

SCORE_COLUMN = "__score"

# points a field earns per rule (spec §4.4); a row scores the sum over its fields
EXACT_POINTS = 200  # the value is the query: an exact name beats any partial match
SYNONYM_POINTS = 200  # a pipe-separated synonym is the query: as good as the name
WORD_POINTS = 10  # the query stands as whole words inside a longer value
PREFIX_POINTS = 8  # the value or a synonym begins with the query, then one word goes on
WORD_START_POINTS = 2  # a word begins with the query, as when typing the first letters
WORD_END_POINTS = 2  # the query ends where a word ends
CONTAINS_POINTS = 1  # any hit earns a point, so every literal hit scores at least 1

# typo tolerance (ours, not LaminDB's); see `rank` for the rule as a whole
TYPO_CHARS_PER_EDIT = 5  # one edit per five letters: "kidny" may hold one, "cell" none
TYPO_MAX_EDITS = 2  # per word; beyond two edits unrelated words begin to look alike
TYPO_TOP_SCORE = 0.5  # below 1, the least a literal hit scores, so typo hits come last
TYPO_PART_FACTOR = 0.9  # a typo in a whole value or synonym outranks one in a part

# characters that end a word for the word rules
_DELIMITERS = "[ |.,;:]"
# a word inside one pipe-separated token
_TOKEN_WORD = "[^ .,;:]+"
# row number of a candidate while its typo score is matched back to it
_ROW = "__lakecat_row"
# the only non-ASCII characters whose lower case holds ASCII: "i̇" and "k"
_LOWER_TO_ASCII = ("\u0130", "\u212a")
# above this many distinct words, edit distances are computed on all cores
_PARALLEL_WORDS = 10_000
# whether a candidate row may contain the query itself, not only a typo of it
_MAYBE_LITERAL = "__lakecat_maybe_literal"


def rank(
    frame: pl.DataFrame | pl.LazyFrame,
    query: str,
    fields: Sequence[str],
    *,
    case_sensitive: bool = False,
    limit: int | None = 20,
    id_column: str = "id",
    typo_tolerance: bool = True,
) -> pl.DataFrame:
    """
    Return the rows of `frame` that match `query`, best first, with their score.

    A row is a hit when one of `fields` contains the stripped `query` as literal
    text (regex and SQL wildcards mean nothing). Unless `case_sensitive`, both sides
    are lower-cased with full Unicode rules; null cells count as empty strings.
    Each field earns points per rule (spec §4.4), summed over the fields:

    ======  ==============================================================
    points  the folded field value ...
    ======  ==============================================================
    200     equals the query
    200     has a pipe-separated token equal to the query (a synonym)
    10      holds the query between (start or delimiter) and (delimiter or end)
    8       holds it at the start or after a pipe, the rest of that token without
            a space
    2       holds it at the start or after a space or pipe
    2       holds it before a delimiter or the end
    1       contains it
    ======  ==============================================================

    Delimiters are space, pipe, ``.``, ``,``, ``;`` and ``:``. Hits are sorted by
    score descending, ties by ascending `id_column`, and the first `limit` are kept.

    With `typo_tolerance`, when fewer than `limit` rows are literal hits (with
    ``limit=None``: always), rows holding the query with a few typos are appended:

    * the query and each pipe-separated token of a field are split into words at
      the delimiters, and the query's words are compared in order with every run
      of as many consecutive words in a token;
    * a run matches when each of its words is within an edit distance of the query
      word of one edit per five letters, at most two; an edit inserts, deletes or
      replaces a letter or swaps two neighbouring ones (rapidfuzz's optimal string
      alignment). Words shorter than five letters must be spelled right: ``kidny``
      and ``kindey`` find ``kidney``, ``lymphocite`` finds ``lymphocyte``,
      ``p cell`` does not find ``t cell``; a missing space is not mended;
    * a typo hit scores ``0.5 / (1 + edits)``, times 0.9 when the run is only part
      of its token, so typo hits follow all literal hits (which score at least 1),
      fewer edits first, then ascending `id_column`; no row appears twice.

    Parameters
    ----------
    frame
        The rows to search; a lazy frame is scanned once.
    query
        The text to look for; surrounding whitespace is ignored.
    fields
        The columns to search; non-string columns are searched as strings.
    case_sensitive
        Compare without lower-casing.
    limit
        How many rows to return at most; `None` for every hit.
    id_column
        The column that orders rows of equal score, ascending.
    typo_tolerance
        Append rows that match with typos when literal hits are fewer than `limit`.

    Returns
    -------
    polars.DataFrame
        The matching rows with all columns of `frame` plus a Float64 column
        ``__score`` (replacing one `frame` may have), best first.

    Raises
    ------
    ValueError
        If `query` is `None`, `fields` is empty, a field or `id_column` is not a
        column of `frame`, or `limit` is negative.
    TypeError
        If `query` is neither a string nor `None`.

    Examples
    --------
    >>> import polars as pl
    >>> cells = pl.DataFrame(
    ...     {
    ...         "id": [1, 2, 3, 4],
    ...         "name": ["T cell", "B cell", "PP cell", "nodal myocyte"],
    ...         "synonyms": [None, "B-cell|B lymphocyte", None, "P cell|cardiac cell"],
    ...     }
    ... )
    >>> rank(cells, "P cell", ["name", "synonyms"])
    shape: (2, 4)
    ┌─────┬───────────────┬─────────────────────┬─────────┐
    │ id  ┆ name          ┆ synonyms            ┆ __score │
    │ --- ┆ ---           ┆ ---                 ┆ ---     │
    │ i64 ┆ str           ┆ str                 ┆ f64     │
    ╞═════╪═══════════════╪═════════════════════╪═════════╡
    │ 4   ┆ nodal myocyte ┆ P cell|cardiac cell ┆ 223.0   │
    │ 3   ┆ PP cell       ┆ null                ┆ 3.0     │
    └─────┴───────────────┴─────────────────────┴─────────┘

    A typo finds the closest rows after the literal hits:

    >>> rank(cells, "lymphocite", ["name", "synonyms"])["name"].to_list()
    ['B cell']
    """
    text = _validated_query(query)
    fields = _validated_fields(fields)
    if limit is not None and limit < 0:
        msg = f"`limit` must be a non-negative integer or None, got {limit!r}"
        raise ValueError(msg)

    lazy = frame.lazy()
    columns = lazy.collect_schema().names()
    _check_columns(columns, fields, "search")
    _check_columns(columns, [id_column], "order ties by")
    if SCORE_COLUMN in columns:
        lazy = lazy.drop(SCORE_COLUMN)  # a score from an earlier ranking
    needle = text if case_sensitive else _fold(text)
    typos = _typos(needle) if typo_tolerance and limit != 0 else None

    candidates = _candidates(lazy, needle, typos, fields, case_sensitive)
    hits = _literal_hits(candidates, needle, fields, case_sensitive)
    hits = _first(_ranked(hits, id_column), limit)
    room = None if limit is None else limit - hits.height
    if typos is None or room == 0:
        return hits

    misses = _misses(candidates, needle, fields, case_sensitive)
    near = _typo_hits(misses, typos, fields, case_sensitive)
    return pl.concat([hits, _first(_ranked(near, id_column), room)])


def _validated_query(query: str | None) -> str:
    """Return the query stripped of surrounding whitespace."""
    if query is None:
        msg = "Cannot search for None value! Please pass a valid string."
        raise ValueError(msg)
    if not isinstance(query, str):
        msg = f"`query` must be a string, got {query!r}"
        raise TypeError(msg)
    return query.strip()


def _validated_fields(fields: Sequence[str] | str) -> list[str]:
    """Return the fields as a list; a single name is accepted as one field."""
    names = [fields] if isinstance(fields, str) else list(fields)
    if not names:
        msg = "Cannot search without fields: pass at least one column name in `fields`"
        raise ValueError(msg)
    return names


def _check_columns(available: list[str], wanted: list[str], action: str) -> None:
    """Raise if a wanted column is missing, suggesting the closest name."""
    import difflib

    for name in wanted:
        if name in available:
            continue
        close = difflib.get_close_matches(name, available, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        msg = (
            f"Cannot {action} column `{name}`: the frame has no such column.{hint}"
            f" Available columns: {', '.join(available)}"
        )
        raise ValueError(msg)


def _fold(text: str) -> str:
    """Lower-case `text` exactly as Polars lower-cases a column."""
    if text.isascii():
        return text.lower()
    # python's str.lower may follow another Unicode version than Polars
    return pl.select(pl.lit(text, dtype=pl.String).str.to_lowercase()).item()


def _text(field: str) -> pl.Expr:
    """The field as a string, nulls as empty strings."""
    return pl.col(field).cast(pl.String).fill_null("")


def _folded(field: str, case_sensitive: bool) -> pl.Expr:
    """The field as it is compared with the query."""
    text = _text(field)
    return text if case_sensitive else text.str.to_lowercase()


def _may_contain(field: str, needles: list[str], case_sensitive: bool) -> pl.Expr:
    """A cheap test, true for every row whose folded field holds one of `needles`."""
    text = _text(field)
    if case_sensitive:
        return text.str.contains_any(needles)

    # ASCII text lower-cases to ASCII text, and only two other characters lower-case
    # to ASCII letters; rows holding them, and for non-ASCII needles every row with
    # other characters, are kept for the exact check
    ascii_needles = [needle for needle in needles if needle.isascii()]
    kept = pl.lit(False)
    if ascii_needles:
        patterns = [*ascii_needles, *_LOWER_TO_ASCII]
        kept = text.str.contains_any(patterns, ascii_case_insensitive=True)
    if len(ascii_needles) < len(needles):
        kept = kept | (text.str.len_bytes() != text.str.len_chars())
    return kept


def _candidates(
    lazy: pl.LazyFrame,
    needle: str,
    typos: _Typos | None,
    fields: list[str],
    case_sensitive: bool,
) -> pl.DataFrame:
    """
    The rows that may hold `needle` or, with `typos`, a typo of it; one scan.

    The typo pieces include plain parts of `needle`, so a row that may hold the
    needle also holds a piece: the scan tests the pieces, and the needle only on the
    rows it keeps, into a boolean column.
    """
    literal = pl.any_horizontal(
        [_may_contain(f, [needle], case_sensitive) for f in fields]
    )
    if typos is None:
        kept = lazy.filter(literal).with_columns(pl.lit(True).alias(_MAYBE_LITERAL))
        return kept.collect()

    near = pl.any_horizontal(
        [_may_contain(f, typos.scan_pieces, case_sensitive) for f in fields]
    )
    return lazy.filter(near).with_columns(literal.alias(_MAYBE_LITERAL)).collect()


def _literal_hits(
    candidates: pl.DataFrame, needle: str, fields: list[str], case_sensitive: bool
) -> pl.DataFrame:
    """The candidates that contain `needle`, with their points."""
    points = pl.sum_horizontal(
        [_field_points(_folded(f, case_sensitive), needle) for f in fields]
    )

    # every rule implies "contains", so a row scores at least 1 exactly when it hits
    return (
        candidates.lazy()
        .filter(_MAYBE_LITERAL)
        .drop(_MAYBE_LITERAL)
        .with_columns(points.cast(pl.Float64).alias(SCORE_COLUMN))
        .filter(pl.col(SCORE_COLUMN) > 0)
        .collect()
    )


def _misses(
    candidates: pl.DataFrame, needle: str, fields: list[str], case_sensitive: bool
) -> pl.DataFrame:
    """The candidates that do not contain `needle`."""
    hit = pl.col(_MAYBE_LITERAL) & pl.any_horizontal(
        [_contains(_folded(f, case_sensitive), needle) for f in fields]
    )
    return candidates.lazy().filter(~hit).drop(_MAYBE_LITERAL).collect()


def _field_points(value: pl.Expr, needle: str) -> pl.Expr:
    """The points one folded field value earns for `needle`."""
    return pl.sum_horizontal(
        [rule(value, needle).cast(pl.Int32) * points for points, rule in _RULES]
    )


def _equals(value: pl.Expr, needle: str) -> pl.Expr:
    return value == pl.lit(needle, dtype=pl.String)


def _is_token(value: pl.Expr, needle: str) -> pl.Expr:
    return value.str.contains(rf"(?:^|\|){pl.escape_regex(needle)}(?:\||$)")


def _is_word(value: pl.Expr, needle: str) -> pl.Expr:
    pattern = rf"(?:^|{_DELIMITERS}){pl.escape_regex(needle)}(?:{_DELIMITERS}|$)"
    return value.str.contains(pattern)


def _starts_token(value: pl.Expr, needle: str) -> pl.Expr:
    return value.str.contains(rf"(?:^|\|){pl.escape_regex(needle)}[^ |]*(?:\||$)")


def _starts_word(value: pl.Expr, needle: str) -> pl.Expr:
    return value.str.contains(rf"(?:^|[ |]){pl.escape_regex(needle)}")


def _ends_word(value: pl.Expr, needle: str) -> pl.Expr:
    return value.str.contains(rf"{pl.escape_regex(needle)}(?:{_DELIMITERS}|$)")


def _contains(value: pl.Expr, needle: str) -> pl.Expr:
    return value.str.contains(needle, literal=True)


# the rules of spec §4.4 in its order, each with the points it awards
_RULES: tuple[tuple[int, Callable[[pl.Expr, str], pl.Expr]], ...] = (
    (EXACT_POINTS, _equals),
    (SYNONYM_POINTS, _is_token),
    (WORD_POINTS, _is_word),
    (PREFIX_POINTS, _starts_token),
    (WORD_START_POINTS, _starts_word),
    (WORD_END_POINTS, _ends_word),
    (CONTAINS_POINTS, _contains),
)


def _first(frame: pl.DataFrame, count: int | None) -> pl.DataFrame:
    """The first `count` rows, or all for `None`."""
    return frame if count is None else frame.head(count)


def _ranked(frame: pl.DataFrame, id_column: str) -> pl.DataFrame:
    """Sort by score descending, ties by ascending id."""
    # eager: a lazy sort and head become a top-k that is slow on a few rows
    return frame.sort(
        [SCORE_COLUMN, id_column], descending=[True, False], nulls_last=True
    )


class _Typos(NamedTuple):
    """The query as typo matching sees it."""

    words: list[str]
    budgets: list[int]  # edits each word may hold
    pieces: list[list[str]]  # per word: a word within budget holds one of these

    @property
    def scan_pieces(self) -> list[str]:
        """The pieces of the word whose shortest piece is longest: most selective."""
        return max(self.pieces, key=lambda pieces: min(map(len, pieces)))


def _typos(needle: str) -> _Typos | None:
    """The words of `needle` and their typo budgets; `None` when no word has one."""
    words = [word for word in re.split(f"{_DELIMITERS}+", needle) if word]
    budgets = [min(TYPO_MAX_EDITS, len(w) // TYPO_CHARS_PER_EDIT) for w in words]
    if not any(budgets):
        return None
    pieces = [
        _pieces(word, budget) for word, budget in zip(words, budgets, strict=True)
    ]
    return _Typos(words, budgets, pieces)


def _pieces(word: str, budget: int) -> list[str]:
    """
    Pieces of `word` of which every word within `budget` edits of it holds one.

    A word cut into ``budget + 1`` pieces keeps one piece unchanged through
    `budget` insertions, deletions or substitutions, since each touches one piece.
    A swap across the cut between two pieces touches both; so each run of
    neighbouring pieces joined with the letters at its cuts swapped is a piece too.

    Examples
    --------
    >>> _pieces("kidny", 1)
    ['ki', 'kdiny', 'dny']
    >>> _pieces("lymphocite", 2)
    ['lym', 'lypmho', 'lypmhcoite', 'pho', 'phcoite', 'cite']
    >>> _pieces("cell", 0)
    ['cell']
    """
    count = budget + 1
    cuts = [len(word) * i // count for i in range(count + 1)]

    pieces = []
    for first, last in itertools.combinations(range(count + 1), 2):
        letters = list(word[cuts[first] : cuts[last]])
        for cut in cuts[first + 1 : last]:
            at = cut - cuts[first]
            letters[at - 1], letters[at] = letters[at], letters[at - 1]
        pieces.append("".join(letters))
    return pieces


def _typo_hits(
    misses: pl.DataFrame, typos: _Typos, fields: list[str], case_sensitive: bool
) -> pl.DataFrame:
    """The rows among `misses` that hold the query's words with a few typos."""
    candidates = misses.with_row_index(_ROW)
    values = pl.concat(
        [
            candidates.lazy().select(_ROW, _folded(f, case_sensitive).alias("value"))
            for f in fields
        ]
    )
    scores = _typo_scores(_windows(values, typos).collect(), typos)
    return candidates.join(scores, on=_ROW).drop(_ROW)


def _windows(values: pl.LazyFrame, typos: _Typos) -> pl.LazyFrame:
    """
    Every run of as many words as the query has inside one pipe-separated token.

    `values` holds the folded field values with their row numbers. Columns of the
    result: the row number, ``whole`` (the run is the whole token) and
    ``word_0``, ``word_1``, ...; runs whose words cannot be within their budget by
    length alone, or that miss a word without budget, are left out.
    """
    size = len(typos.words)
    # a run within budget lies in a value and a token that hold a piece of each word
    has_pieces = [pl.col("value").str.contains_any(p) for p in typos.pieces]
    tokens = (
        values.filter(has_pieces)
        .select(_ROW, pl.col("value").str.split("|"))
        .explode("value")
        .filter(has_pieces)
    )
    words = pl.col("value").str.extract_all(_TOKEN_WORD)
    count = words.list.len().cast(pl.Int64)  # unsigned: runs may not fit
    runs = (
        tokens.select(
            _ROW,
            words.alias("words"),
            (count == size).alias("whole"),
            pl.int_ranges(0, count - size + 1).alias("start"),
        )
        .explode("start")
        .drop_nulls("start")
    )

    word_at = [
        pl.col("words").list.get(pl.col("start") + i).alias(f"word_{i}")
        for i in range(size)
    ]
    fits = [
        _fits(pl.col(f"word_{i}"), word, budget)
        for i, (word, budget) in enumerate(zip(typos.words, typos.budgets, strict=True))
    ]
    return runs.select(_ROW, "whole", *word_at).filter(*fits)


def _fits(word: pl.Expr, query_word: str, budget: int) -> pl.Expr:
    """A cheap test that `word` may be within `budget` edits of `query_word`."""
    if budget == 0:
        return word == query_word
    # lengths are unsigned: subtract as signed integers
    length = word.str.len_chars().cast(pl.Int64)
    return (length - len(query_word)).abs() <= budget


def _typo_scores(windows: pl.DataFrame, typos: _Typos) -> pl.DataFrame:
    """The best typo score per row whose word runs come within budget of the query."""
    edits, within = {}, []
    for i, (word, budget) in enumerate(zip(typos.words, typos.budgets, strict=True)):
        if budget:
            edits[f"edits_{i}"] = _edits(windows.get_column(f"word_{i}"), word, budget)
            within.append(pl.col(f"edits_{i}") <= budget)

    part = pl.when(pl.col("whole")).then(1.0).otherwise(TYPO_PART_FACTOR)
    score = TYPO_TOP_SCORE / (1 + pl.sum_horizontal(list(edits))) * part
    return (
        windows.lazy()
        .with_columns(**edits)
        .filter(within)
        .select(_ROW, score.alias(SCORE_COLUMN))
        .group_by(_ROW)
        .max()
        .collect()
    )


def _edits(words: pl.Series, word: str, budget: int) -> pl.Expr:
    """
    The edit distance of each of `words` from `word`, as an expression.

    The distance counts insertions, deletions, substitutions and swaps of two
    neighbouring letters (optimal string alignment).
    Distances above `budget` come out as ``budget + 1``; each distinct word is
    measured once.
    """
    import numpy as np
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    choices = words.unique()
    distances = process.cdist(
        [word],
        choices.to_list(),
        scorer=OSA.distance,
        score_cutoff=budget,
        dtype=np.int32,
        # threads pay off only on many words
        workers=-1 if len(choices) > _PARALLEL_WORDS else 1,
    )
    distances = pl.Series(distances.reshape(-1), dtype=pl.Int32)
    return pl.col(words.name).replace_strict(choices, distances)
