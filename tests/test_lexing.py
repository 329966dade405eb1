"""The diff pages' lexing loop gives Pygments' own tokens, whatever the language or the text.

Each case lexes the same text with Pygments' own loop (`get_tokens`) and with
`gastown.web.lexing.tokens`, and the two token lists must be equal: the project's own files
in several languages, text no lexer expects (error tokens, unclosed strings reset at a line
break), states whose rules start with back-references or scoped flags, a lexer with rule
variants (C#) and lexers with loops of their own (C, JSON), which are left to Pygments.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename

from gastown.web import lexing

SRC = Path(lexing.__file__).parent
OWN_FILES = [
    SRC / "lexing.py",
    SRC / "diff_view.py",
    SRC / "static" / "gt.js",
    SRC / "static" / "diff.css",
    SRC / "templates" / "diff.html",
    SRC.parents[2] / "pyproject.toml",
    SRC.parents[2] / "README.md",
]

SNIPPETS = {
    "python": [
        'x = f"{a!r:>{width}} and {b}"\nrb"\\x00" + u\'\u00e9\'\n',
        "'''never closed\nstill a string\n",
        "s = 'broken\nprint(s) $ ? `\n",
        "match command.split():\n    case [action]:\n        pass\n",
        "@decorator\nclass K(Base, metaclass=M):\n    def __init__(self) -> None: ...\n",
        "from . import (a,\n    b as c)\nimport os.path as p\n",
        "0x_ff + 1_000.5e-3j - 0o17 // 0b1\n\r\n\t\x0c",
        "",
        "\n\n",
    ],
    "rust": ['let s = r#"a "quoted" word"#;\nlet b = br##"x"##;\nfn main() {}\n'],
    "bash": ["cat <<EOF\n$HOME ${x:-y}\nEOF\necho $(( 1 + 2 )) 'q' \"$q\"\n"],
    "javascript": ["const re = /a[/]b/g; let t = `x${y + `z`}`; // c\n/* open"],
    "markdown": ["# T\n\n```python\ndef f(): pass\n```\n\n* a **b** `c`\n"],
    "csharp": ['class A { string s = @"x""y"; int? n = null; }\n'],
    "c": ['#include <stdio.h>\nint main(void) { printf("%d\\n", 1); }\n'],
    "json": ['{"a": [1, 2.5e3, true, null], "b": "\\u00e9"}\n'],
    "html": ["<p class=x>a &amp; <b>b</b><script>let x = 1 < 2;</script>\n<!-- c"],
}


def same(lexer: Lexer, text: str) -> None:
    assert list(lexing.tokens(lexer, text)) == list(lexer.get_tokens(text))


@pytest.mark.parametrize("path", OWN_FILES, ids=lambda p: p.name)
def test_the_projects_own_files_lex_as_pygments_lexes_them(path: Path) -> None:
    lexer = get_lexer_for_filename(path.name, stripnl=False, ensurenl=False)
    text = path.read_text()
    same(lexer, text)
    same(lexer, text[len(text) // 3 :])  # a hunk starts anywhere, in any state


@pytest.mark.parametrize(
    ("language", "text"),
    [(language, text) for language, texts in SNIPPETS.items() for text in texts],
    ids=lambda v: v if v in SNIPPETS else "",
)
def test_odd_and_unfinished_text_lexes_as_pygments_lexes_it(language: str, text: str) -> None:
    lexer = get_lexer_by_name(language, stripnl=False, ensurenl=False)
    same(lexer, text)
    same(lexer, text * 3)  # a state left open by one copy carries into the next


def test_the_input_is_prepared_as_pygments_prepares_it() -> None:
    """Options every lexer honours (tabs, stripping, a byte order mark) still apply."""
    for options in ({"tabsize": 4}, {"stripall": True}, {"ensurenl": True}):
        lexer = get_lexer_by_name("python", **options)
        same(lexer, "\ufeff\n\tif x:\n\t\ty = 1  ")
