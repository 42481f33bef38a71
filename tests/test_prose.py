"""The book's prose states no measured number by hand: every number in a markdown cell is
inserted by a glue role from a value its notebook computed and recorded (book/prose.py)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from evae_lite.book.prose import GLUE_PREFIX, glue_keys, typed_numbers

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(BOOK.glob("[0-9]*.ipynb"))


def _markdown(nb):
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"]


def _glued(nb) -> dict[str, str]:
    """name -> text/plain of every value the notebook's outputs record with glue."""
    out = {}
    for c in nb.cells:
        for o in c.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                out[name] = o.get("data", {}).get(GLUE_PREFIX + "text/plain")
    return out


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_no_number_typed_into_the_prose(path):
    nb = nbformat.read(path, as_version=4)
    typed = [t for i, src in _markdown(nb) for t in typed_numbers(src, i)]
    assert not typed, "\n".join(f"cell {t.cell}: ...{t.text}..." for t in typed)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_glued_name_is_recorded_and_formats(path):
    """Each role's name is recorded by the committed outputs, and its format spec applies."""
    from myst_nb.core.variables import format_plain_text

    nb = nbformat.read(path, as_version=4)
    glued = _glued(nb)
    for i, src in _markdown(nb):
        for name, spec in glue_keys(src):
            assert name in glued, f"cell {i}: {name!r} is not glued by {path.name}'s outputs"
            assert glued[name] is not None, f"{name!r} has no text/plain"
            format_plain_text(glued[name], spec)  # raises when the spec does not fit


def _table_headers(nb) -> list[str]:
    """The header row of every Markdown table in the notebook's outputs that lists verdicts."""
    heads = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            text = "".join(o.get("data", {}).get("text/markdown", ""))
            lines = text.splitlines()
            for k, line in enumerate(lines[:-2]):
                rule = lines[k + 1].replace(" ", "").strip("|").split("|")
                if set(rule) == {"---"} and "| **" in lines[k + 2]:
                    heads.append(line)
    return heads


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_verdict_table_has_the_layout_the_code_writes(path):
    """A chapter whose outputs predate a change of the verdict table's columns (executed
    with older code) shows a table unlike its neighbours': it must be executed again."""
    from evae_lite.book.rules import table_markdown

    nb = nbformat.read(path, as_version=4)
    written = {
        table_markdown([], **kw).splitlines()[0]
        for kw in ({}, {"chapters": True}, {"chapters": True, "holm_column": True})
    }
    for head in _table_headers(nb):
        cols = head.strip("| ").split(" | ")
        cols[1 + (cols[0] == "chapter")] = "the paper's claim"  # its header may be the chapter's
        assert "| " + " | ".join(cols) + " |" in written, f"{path.name}: {head}"


def test_typed_numbers_finds_what_it_should():
    text = "The VAE keeps 29 of 50 units active, eight active units in all, and scores 180.3 nats."
    found = [t.text for t in typed_numbers(text)]
    assert len(found) == 4 and "eight active" in found[-1]


@pytest.mark.parametrize(
    "text",
    [
        "As Fig. 7 and Tables 1 and 4 show (section 5.2, eq. 7, Algorithm 1, appendix 9.3).",
        "Chapters 9-12 and Figs. 2, 9 say so.",
        "The VAE keeps {glue:text}`active` of {glue:text}`D:d` units: {glue:text}`nll:.2f` nats.",
        "Here $D = 50$ and $$\\lambda \\in [0, 1]$$ with `k=5000` {cite}`burda2015importance`.",
        "1. first item\n2. second item",
        "See [the data](https://example.org/v1.2/x).",
        "```{glue:figure} fig1\n:name: fig-1\n```",
    ],
)
def test_typed_numbers_leaves_references_math_and_glue(text):
    assert typed_numbers(text) == []


def test_glue_keys_and_names():
    from evae_lite.book.prose import glue

    assert glue_keys("a {glue:text}`gap:+.1f` b {glue}`fig` c") == [("gap", "+.1f"), ("fig", "")]
    with pytest.raises(ValueError, match="glue name 'a b'"):
        glue("a b", 1)


def test_the_readme_summary_is_the_closing_chapters_table():
    """README.md shows what book/15_findings.ipynb computed, as committed."""
    from evae_lite.book import findings

    assert findings.main(["--check"]) == 0, "run python -m evae_lite.book.findings"


def test_the_readme_summary_replaces_only_its_block():
    from evae_lite.book.findings import BEGIN, END, with_summary

    text = f"intro\n{BEGIN}\nold\n{END}\nrest"
    assert with_summary(text, "new table\n") == f"intro\n{BEGIN}\nnew table\n{END}\nrest"
    with pytest.raises(ValueError, match="exactly one"):
        with_summary("no markers", "x")


# What a built page shows of a code cell, declared by one tag per cell (Jupyter Book's
# remove-cell / remove-input / hide-input / hide-cell, and show-input for the cells that teach)
READER_TAGS = {"remove-cell", "remove-input", "hide-input", "hide-cell", "show-input"}


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_code_cell_declares_what_the_reader_sees(path):
    nb = nbformat.read(path, as_version=4)
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        tags = c.metadata.get("tags", [])
        shown = [t for t in tags if t in READER_TAGS]
        assert len(shown) == 1, f"cell {i}: tags {tags} need exactly one of {sorted(READER_TAGS)}"
        if "parameters" in tags or "install" in tags:
            assert shown == ["remove-cell"], f"cell {i}: the {tags[0]} cell is plumbing"
        assert "NBVAL" not in c.source, f"cell {i}: test markers go in tags, not in the code"


# The widest line a code box of the built pages shows whole (book.css sets its font), so a
# cell that teaches is read without scrolling sideways
SHOWN_WIDTH = 84


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_code_that_teaches_fits_its_box(path):
    nb = nbformat.read(path, as_version=4)
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and "show-input" in c.metadata.get("tags", []):
            for line in c.source.splitlines():
                assert len(line) <= SHOWN_WIDTH, (
                    f"cell {i}: a line of {len(line)} characters, more than the "
                    f"{SHOWN_WIDTH} a page shows: {line.strip()[:60]!r}"
                )


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_says_what_it_covers_and_ends_with_exercises(path):
    """A summary under the title, and exercises whose solutions are collapsed."""
    nb = nbformat.read(path, as_version=4)
    md = [c.source for c in nb.cells if c.cell_type == "markdown"]
    title = md[0].split("\n", 1)
    assert title[0].startswith("# "), f"{path.name} starts with its title"
    assert title[1].lstrip().startswith("```{admonition} In this chapter"), path.name
    ex = [s for s in md if s.startswith("## Exercises") or "\n## Exercises" in s]
    assert len(ex) == 1, f"{path.name}: one section of exercises"
    body = ex[0].split("## Exercises", 1)[1]
    assert "\n1. " in body and "```{admonition} Solutions\n:class: dropdown" in body, path.name


def test_numbers_inside_admonitions_and_dropdowns_are_prose():
    """A solution in a dropdown is read like any paragraph; its fence and options are not,
    and code fences stay exempt."""
    md = (
        "Intro.\n\n```{admonition} Solutions\n:class: dropdown\n\n1. It is 2.57 at six seeds; "
        "$t_{0.975}$ is math.\n```\n\n```python\nx = 42\n```\n"
    )
    found = [t.text for t in typed_numbers(md)]
    assert len(found) == 1 and "2.57" in found[0], found
    title = "```{note} The 3 rules\nbody\n```\n"
    assert [t.text.split()[:3] for t in typed_numbers(title)] == [["The", "3", "rules"]]


def test_inline_math_may_break_a_line_but_not_a_paragraph():
    md = "the bound $\\mathcal{L}_1 = a\n - b_2$ holds, and 7 is typed"
    found = [t.text for t in typed_numbers(md)]
    assert len(found) == 1 and "and 7 is typed" in found[0] and "_1" not in found[0], found
    assert len(typed_numbers("cost $a\n\nb 3 c$ d")) == 1  # a blank line ends the math
