"""`Record`, the base of the plain data classes: like a dataclass, with `__init__` compiled
when the first record of a class is made."""

from __future__ import annotations

import pytest

from gastown.record import Record, field, replace


class Point(Record):
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)


def test_records_are_made_by_position_or_keyword_with_fresh_defaults() -> None:
    first, second = Point(1), Point(x=2, y=3, tags=["a"])
    assert (first.x, first.y, first.tags) == (1, 0, [])
    assert (second.x, second.y, second.tags) == (2, 3, ["a"])
    assert Point(1).tags is not first.tags
    assert first == Point(1) and first != second
    assert repr(second) == "Point(x=2, y=3, tags=['a'])"
    assert replace(second, y=9) == Point(2, 9, ["a"])
    assert Point.__init__.__qualname__ == "Point.__init__"


def test_wrong_arguments_fail_as_with_a_written_constructor() -> None:
    """Even on the first record of a class, the call that compiles `__init__`."""

    class Pair(Record):
        left: str
        right: str = ""

    with pytest.raises(TypeError):
        Pair()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Pair("a", z=2)  # type: ignore[call-arg]
    assert Pair("a").left == "a"


def test_a_field_without_default_after_one_with_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match=r"Bad\.b has no default"):

        class Bad(Record):
            a: int = 0
            b: int  # type: ignore[misc]
