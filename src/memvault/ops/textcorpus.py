"""Real English sentences that every machine has: the standard library's docstrings and comments.

`memvault bench ann` embeds them so that nearest-neighbour search runs on vectors with the
structure of real text (topics, near-paraphrases, clusters), which random vectors lack.
Sources are read, never imported: docstrings come from `ast` (module, class and function
docstrings of the stdlib's .py files outside its tests), comments from full-line `#` blocks
of every stdlib .py file. Text is cut into sentences; short or mostly non-letter ones
(code, tables) are dropped, and each distinct sentence is kept once, in a stable order.
"""

from __future__ import annotations

import ast
import re
import sysconfig
from collections.abc import Iterable, Iterator
from pathlib import Path

MIN_WORDS = 5
MIN_LETTER_SHARE = 0.6  # of a sentence's characters
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_PARAGRAPH = re.compile(r"\n\s*\n")
_COMMENT = re.compile(r"^[ \t]*#[ \t]?(.*)$")
_SKIPPED_FOR_DOCSTRINGS = {"test", "tests", "idlelib", "lib2to3", "site-packages"}


def stdlib_root() -> Path:
    """The folder holding the running Python's standard-library sources."""
    return Path(sysconfig.get_paths()["stdlib"])


def sentences(text: str) -> Iterator[str]:
    """The sentences of `text` (whitespace collapsed) long and wordy enough to keep."""
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        letters = sum(c.isalpha() for c in sentence)
        if len(sentence.split()) >= MIN_WORDS and letters >= MIN_LETTER_SHARE * len(sentence):
            yield sentence


def docstring_paragraphs(source: bytes) -> Iterator[str]:
    """The paragraphs of every module, class and function docstring in `source`, doctest
    paragraphs left out; nothing for a file that does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        doc = ast.get_docstring(node) if isinstance(node, kinds) else None
        for paragraph in _PARAGRAPH.split(doc) if doc else ():
            if paragraph.strip() and ">>>" not in paragraph:
                yield paragraph


def comment_blocks(source: str) -> Iterator[str]:
    """Runs of consecutive full-line comments, each joined into one text (no `#!` lines)."""
    block: list[str] = []
    for line in [*source.splitlines(), ""]:
        match = _COMMENT.match(line)
        if match and not line.lstrip().startswith("#!"):
            block.append(match.group(1))
        elif block:
            yield " ".join(block)
            block = []


def stdlib_sentences(root: Path | None = None) -> list[str]:
    """Every distinct kept sentence of the stdlib's docstrings and comments, in file order."""
    root = stdlib_root() if root is None else root
    seen: dict[str, None] = {}
    for path in sorted(root.rglob("*.py")):
        parts = set(path.relative_to(root).parts[:-1])
        if "site-packages" in parts:
            continue
        source = path.read_bytes()
        texts: Iterable[str] = comment_blocks(source.decode("utf-8", "replace"))
        if not parts & _SKIPPED_FOR_DOCSTRINGS:
            texts = [*docstring_paragraphs(source), *texts]
        for text in texts:
            seen.update(dict.fromkeys(sentences(text)))
    return list(seen)
