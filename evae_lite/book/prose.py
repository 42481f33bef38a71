"""Numbers in the prose come from the computation: `glue` records a value in the executed
notebook, a markdown cell inserts it with myst-nb's role (``{glue:text}`name` ``, or
``{glue:text}`name:.1f` ``), and `typed_numbers` finds numbers written into markdown by hand.

What markdown may hold in digits without gluing: formulas in math, code, citations, link
targets, references to the paper's parts ("Fig. 7", "Table 4", "section 5.2", "eq. 7",
"Algorithm 1", its "line 3", "appendix 9.3") and to a seed by its name ("seed 0"), and the
numbers of an ordered list. Everything else, ours or the paper's, is glued: ours from the
results, the paper's from `evae_lite.book.paper`, the settings from the chapter's parameters
and the table of scales.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GLUE_PREFIX = "application/papermill.record/"  # myst-nb's mime prefix for glued values

# A glue role or directive, code, math, citations and link targets: removed before looking.
_ALLOWED = re.compile(
    r"\{glue(:\w+)?\}`[^`]*`"  # {glue:text}`name:.1f`
    r"|^```.*?^```"  # fenced blocks (glue directives, code)
    r"|`[^`]*`"  # inline code
    r"|\$\$.*?\$\$|\$(?:[^$\n]|\n(?!\s*\n))+\$"  # math (inline math may break a line)
    r"|\{cite(:\w+)?\}`[^`]*`"  # citations
    r"|\]\([^)]*\)",  # link targets
    re.S | re.M,
)
_NUM = r"\d+(\.\d+)?[a-z]?"
_REFERENCE = re.compile(
    r"\b(Figs?\.|Figures?|Tables?|[Ss]ections?|[Cc]hapters?|[Ee]qs?\.|[Ee]quations?|"
    rf"Algorithm|[Aa]ppendix|seeds?|[Ll]ines?)\s*{_NUM}((\s*(,|-|–|and|to)\s*){_NUM})*"
)
_LIST_ITEM = re.compile(r"^\s*\d+\.\s", re.M)
_NUMBER_WORD = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred)\s+(nats|(in)?active units|units (are )?active)\b",
    re.I,
)


@dataclass(frozen=True)
class Typed:
    """A number written into a markdown cell by hand: the cell's index and its context."""

    cell: int
    text: str


# A MyST directive whose body is prose (an admonition, a dropdown of solutions): its title
# and body are read like any prose; its opening fence and its ":option:" lines are not.
_PROSE_DIRECTIVE = re.compile(
    r"^```\{(?:admonition|note|tip|hint|important|seealso|warning|attention|caution|danger|"
    r"error|dropdown)\}([^\n]*)\n(?::[\w-]+:[^\n]*\n)*(.*?)^```",
    re.S | re.M,
)


def bare_prose(markdown: str) -> str:
    """The markdown without what may hold digits (see the module's docstring)."""
    out = _PROSE_DIRECTIVE.sub(lambda m: f"{m.group(1)}\n{m.group(2)}", markdown)
    out = _ALLOWED.sub(" ", out)
    out = _REFERENCE.sub(" ", out)
    return _LIST_ITEM.sub(" ", out)


def typed_numbers(markdown: str, cell: int = 0) -> list[Typed]:
    """Every number in the prose that is not inserted by a glue role (each with some context),
    and number words that state a measured amount ("eight active units")."""
    bare = bare_prose(markdown)
    found = []
    for m in re.finditer(r"\d+([.,]\d+)*", bare):
        found.append(Typed(cell, bare[max(0, m.start() - 30) : m.end() + 25].replace("\n", " ")))
    found += [Typed(cell, m.group(0)) for m in _NUMBER_WORD.finditer(bare)]
    return found


def glue_keys(markdown: str) -> list[tuple[str, str]]:
    """(name, format spec) of every glue role in the markdown."""
    out = []
    for m in re.finditer(r"\{glue(?::\w+)?\}`([^`]*)`", markdown):
        name, _, spec = m.group(1).partition(":")
        out.append((name, spec))
    return out


def glue(name: str, value) -> None:
    """Record `value` under `name` for the chapter's prose (myst-nb's glue, not displayed).
    Without myst-nb (a bare Colab kernel) nothing renders the roles, so nothing is recorded."""
    if not re.fullmatch(r"[A-Za-z_][\w.-]*", name):
        raise ValueError(f"glue name {name!r} is not allowed: letters, digits, _ . - only")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=False)


def glue_all(**values) -> None:
    """`glue` every keyword: ``glue_all(active=rep.n_active, D=D)``."""
    for name, value in values.items():
        glue(name, value)
