"""`Record`: the base of Gas Town's plain data classes.

It behaves like a dataclass (fields from annotations, in order; defaults; `field(default_factory=
...)`; `__init__`, `__repr__` and `__eq__` generated once per class, `__init__` compiled when
the first record of the class is made), and type checkers treat it as one (PEP 681). It exists
because importing `dataclasses` loads `inspect`, `ast` and `dis`: about 7 ms, a third of what
`gt ready` may spend starting up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], Any]) -> Any:
    """A default made fresh for each record (a list, a dict)."""
    return _Factory(default_factory)


@dataclass_transform(field_specifiers=(field,))
class Record:
    """Subclass and annotate fields; construct by position or keyword."""

    __fields__: ClassVar[tuple[str, ...]] = ()
    __defaults__: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, *, frozen: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if frozen:  # set once by __init__, never again (`frozen=True` tells type checkers)
            setattr(cls, "__setattr__", _set_once)  # noqa: B010
        own = [
            name
            for name, note in cls.__dict__.get("__annotations__", {}).items()  # noqa: RUF063
            if not str(note).startswith(("ClassVar", "typing.ClassVar"))
        ]
        defaults = dict(cls.__defaults__)
        for name in own:
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
                delattr(cls, name)  # the instance attribute is always set by __init__
        fields = tuple(dict.fromkeys((*cls.__fields__, *own)))
        cls.__fields__ = fields
        cls.__defaults__ = defaults
        source = _init_source(cls.__name__, fields, defaults)
        setattr(cls, "__init__", _first_init(cls, source))  # noqa: B010
        setattr(cls, "__match_args__", fields)  # noqa: B010

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__fields__)
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__fields__)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass with eq


def _set_once(self: Any, name: str, value: Any) -> None:
    """A frozen record's `__setattr__`: each field is set by `__init__` and kept."""
    if name in self.__dict__:
        raise AttributeError(f"{type(self).__name__}.{name} cannot be changed")
    object.__setattr__(self, name, value)


def _init_source(name: str, fields: tuple[str, ...], defaults: dict[str, Any]) -> _Source:
    """The source of `__init__` for one record class, as dataclasses writes it, so building
    many records costs no more than a hand-written constructor."""
    params: list[str] = []
    body: list[str] = []
    env: dict[str, Any] = {}
    seen_default = False
    for i, f in enumerate(fields):
        value = defaults.get(f, _NO_DEFAULT)
        if value is _NO_DEFAULT:
            if seen_default:
                raise TypeError(f"{name}.{f} has no default but follows a field with one")
            params.append(f)
            body.append(f"    self.{f} = {f}")
        elif isinstance(value, _Factory):
            seen_default = True
            env[f"_make{i}"] = value.make
            params.append(f"{f}=_UNSET")
            body.append(f"    self.{f} = _make{i}() if {f} is _UNSET else {f}")
        else:
            seen_default = True
            env[f"_default{i}"] = value
            params.append(f"{f}=_default{i}")
            body.append(f"    self.{f} = {f}")
    env["_UNSET"] = _NO_DEFAULT
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"])
    return _Source(f"{name}.__init__", source, env)


class _Source:
    __slots__ = ("env", "qualname", "text")

    def __init__(self, qualname: str, text: str, env: dict[str, Any]) -> None:
        self.qualname, self.text, self.env = qualname, text, env

    def compile(self) -> Any:
        exec(self.text, self.env)
        init = self.env["__init__"]
        init.__qualname__ = self.qualname
        return init


def _first_init(cls: type, source: _Source) -> Any:
    """An `__init__` that compiles the real one on its first call and puts it in its place:
    a command uses few of the record classes it imports, and compiling costs more than
    defining the class."""

    def first_init(self: Any, *args: Any, **kwargs: Any) -> None:
        init = source.compile()
        setattr(cls, "__init__", init)  # noqa: B010
        init(self, *args, **kwargs)

    first_init.__qualname__ = source.qualname
    return first_init


_NO_DEFAULT: Any = object()


R = TypeVar("R", bound=Record)


def replace(record: R, **changes: Any) -> R:
    """A copy of `record` with some fields changed."""
    values = {name: getattr(record, name) for name in record.__fields__}
    values.update(changes)
    return type(record)(**values)
