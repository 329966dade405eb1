"""Pygments' regex lexers driven faster, with the same tokens, for the diff pages.

A Pygments `RegexLexer` tries the rules of its current state in turn, one `re.match` call each,
until one matches: about thirty calls per token for Python, most of a large diff page's time.
Yet most rules can only start with a few characters (a string with a quote or a prefix letter,
a number with a digit, an operator with its sign). The set of characters each rule can start
with is read from its parsed pattern, so at each position only the rules that could start
with the character there are tried, in their order: the first to match is the one Pygments'
loop would have found, and the tokens and state moves are its own. A rule that may match
nothing (`default`, a lone lookahead) or whose start cannot be told is always tried.

Each state's sets are read when the state is first entered and kept for the process (a few
milliseconds for a language). A lexer that is not a plain `RegexLexer` (its own loop, a
context, filters) is left to Pygments.
"""

from __future__ import annotations

import re
import re._constants as sre  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
from collections.abc import Callable, Iterator
from typing import Any

from pygments.lexer import Lexer, RegexLexer
from pygments.token import Error, Whitespace, _TokenType

Token = tuple[_TokenType, str]
Rule = tuple[Callable[..., Any], Any, Any]
"""One of Pygments' processed rules: (its pattern's `match`, its action, the next state)."""

_CLASSES = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
}


def tokens(lexer: Lexer, text: str) -> Iterator[Token]:
    """What `lexer.get_tokens(text)` yields, faster where the lexer allows it."""
    if lexer.filters or type(lexer).get_tokens_unprocessed is not RegexLexer.get_tokens_unprocessed:
        yield from lexer.get_tokens(text)
        return
    states = _states(lexer._tokens)
    text = lexer._preprocess_lexer_input(text)  # the input rules every lexer applies first
    stack: list[Any] = ["root"]
    state = states["root"]
    pos = 0
    while True:
        c = text[pos : pos + 1]
        rules = state.at.get(c)
        if rules is None:
            rules = state.rules_at(c)
        for rexmatch, action, new_state in rules:
            m = rexmatch(text, pos)
            if m is None:
                continue
            if type(action) is _TokenType:
                yield action, m.group()
            elif action is not None:
                for _, ttype, value in action(lexer, m):
                    yield ttype, value
            pos = m.end()
            if new_state is not None:
                _move(stack, new_state)
                state = states[stack[-1]]
            break
        else:
            # Pygments' own way on: a line break goes back to the root state, anything else
            # is an error token of one character.
            if not c:
                return
            if c == "\n":
                stack = ["root"]
                state = states["root"]
                yield Whitespace, "\n"
            else:
                yield Error, c
            pos += 1


def _move(stack: list[Any], new_state: Any) -> None:
    """Change the state stack as a rule says, the way `RegexLexer` does."""
    if isinstance(new_state, tuple):
        for name in new_state:
            if name == "#pop":
                if len(stack) > 1:
                    stack.pop()
            elif name == "#push":
                stack.append(stack[-1])
            else:
                stack.append(name)
    elif isinstance(new_state, int):
        # pops never empty the stack, however many a rule asks for
        del stack[new_state if -new_state < len(stack) else 1 :]
    elif new_state == "#push":
        stack.append(stack[-1])
    else:
        raise ValueError(f"a lexer rule moves to an unknown kind of state: {new_state!r}")


class _State:
    """One lexer state: its rules worth trying at each character, found when first met."""

    __slots__ = ("at", "rules", "shared", "starts")

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.starts = [_starts(rule) for rule in rules]
        self.at: dict[str, tuple[Rule, ...]] = {}
        """By character (the empty string at the end of the text), the rules to try there."""
        self.shared: dict[tuple[Rule, ...], tuple[Rule, ...]] = {}
        """Each choice of rules once, however many characters lead to it (all letters to the
        same few), so text in any script keeps one small entry per character."""

    def rules_at(self, c: str) -> tuple[Rule, ...]:
        picked = tuple(
            rule
            for rule, starts in zip(self.rules, self.starts, strict=True)
            if starts is None or (c and starts.match(c) is not None)
        )
        found = self.at[c] = self.shared.setdefault(picked, picked)
        return found


class _States(dict[Any, _State]):
    """A lexer's states, each read from its rules when first entered (Python's lexer has 49,
    and a file enters about ten)."""

    def __init__(self, rules: dict[Any, list[Rule]]) -> None:
        super().__init__()
        self.rules = rules

    def __missing__(self, name: Any) -> _State:
        found = self[name] = _State(self.rules[name])
        return found


_KNOWN: dict[int, tuple[dict[Any, list[Rule]], _States]] = {}
"""By the identity of a lexer's processed rules (its class's, or its variant's, as C# has),
those rules and their states. The rules are kept so that the identity stays theirs."""


def _states(rules: dict[Any, list[Rule]]) -> _States:
    known = _KNOWN.get(id(rules))
    if known is None:
        known = _KNOWN[id(rules)] = (rules, _States(rules))
    return known[1]


def _starts(rule: Rule) -> re.Pattern[str] | None:
    """A pattern for the one character a match of `rule` can start with; None if the rule
    may match nothing or its start cannot be told (then it is always tried)."""
    rx = getattr(rule[0], "__self__", None)
    if not isinstance(rx, re.Pattern) or not isinstance(rx.pattern, str):
        return None
    try:
        first, empty = _first(sre_parse.parse(rx.pattern, rx.flags).data)
        if first is None or empty or not first:
            return None
        # the rule's own flags: a case-blind rule starts case-blind, `.` minds DOTALL
        return re.compile("|".join(first), rx.flags & ~re.VERBOSE)
    except (re.error, TypeError, ValueError, AttributeError):
        return None


def _first(items: list[tuple[Any, Any]]) -> tuple[list[str] | None, bool]:
    """Of a parsed sequence: patterns for the characters it can start with (None: cannot
    tell), and whether it can match nothing."""
    found: list[str] = []
    for op, av in items:
        first: list[str] | None
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            continue  # anchors and lookarounds take no character: what follows starts
        if op is sre.LITERAL:
            first, empty = [_char(av)], False
        elif op is sre.NOT_LITERAL:
            first, empty = [f"[^{_char(av)}]"], False
        elif op is sre.ANY:
            first, empty = ["."], False
        elif op is sre.IN:
            first, empty = _in(av), False
        elif op is sre.SUBPATTERN and not av[1] and not av[2]:  # scoped flags: cannot tell
            first, empty = _first(av[3].data)
        elif op is sre.ATOMIC_GROUP:
            first, empty = _first(av.data)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            first, empty = _first(av[2].data)
            empty = empty or av[0] == 0
        elif op is sre.BRANCH:
            branches = [_first(b.data) for b in av[1]]
            if any(f is None for f, _ in branches):
                return None, True
            first = [p for f, _ in branches for p in f or ()]
            empty = any(e for _, e in branches)
        else:  # back-references, conditionals: cannot tell
            return None, True
        if first is None:
            return None, True
        found += first
        if not empty:
            return found, False
    return found, True


def _in(items: list[tuple[Any, Any]]) -> list[str] | None:
    parts = []
    for op, av in items:
        if op is sre.NEGATE:
            parts.append("^")
        elif op is sre.LITERAL:
            parts.append(_char(av))
        elif op is sre.RANGE:
            parts.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op is sre.CATEGORY and av in _CLASSES:
            parts.append(_CLASSES[av])
        else:
            return None
    return ["[" + "".join(parts) + "]"]


def _char(code: int) -> str:
    return f"\\U{code:08x}"
