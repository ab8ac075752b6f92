"""A name → factory registry with errors that list the valid choices."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar, cast

from satlearn.errors import ConfigError

T = TypeVar("T")
D = TypeVar("D")  # what register decorates: given back as it came, so that a checker keeps its own signature


def _same_definition(old: object, new: object) -> bool:
    """Whether ``new`` is ``old`` defined again: a top-level class or function of the same module and name (a
    lambda's or a nested definition's name, with its ``<``, tells too little to say so)."""
    qualname = getattr(new, "__qualname__", None)
    return (isinstance(qualname, str) and "<" not in qualname and qualname == getattr(old, "__qualname__", None)
            and getattr(new, "__module__", None) == getattr(old, "__module__", None))


def _describe(obj: object) -> str:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else repr(obj)


def uncallable(obj: object) -> str | None:
    """Why ``obj`` cannot be registered as a model builder or a data source's loader: a run calls it (a class is
    callable too)."""
    return None if callable(obj) else "is not callable; a run calls what this name is registered as"


class Registry(Generic[T]):
    """Maps names to objects; ``register`` is a decorator, ``get`` fails with the list of choices.

    ``refuses``: says why an object cannot serve under a name (``None`` where it can), so that ``register`` refuses it
    with a ``TypeError`` at once rather than a run failing on it later."""

    def __init__(self, kind: str, *, refuses: Callable[[object], str | None] | None = None) -> None:
        self.kind = kind
        self._refuses = refuses
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[D], D]:
        """Registers the decorated object as ``name``. The same definition registered again (a notebook cell run
        twice, a module reloaded: same module and qualified name) replaces the entry; another one is a KeyError, and
        one that the registry ``refuses`` a TypeError, as is a name that is no text a config could give."""
        if callable(name):  # @REGISTRY.register without its name: the decorated object came as the name
            raise TypeError(f"{self.kind} {_describe(name)}: register takes the name first, as in "
                            f"@register({getattr(name, '__name__', 'name')!r})")
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise TypeError(f"{self.kind} name {name!r}: expected non-empty text without spaces around it, as a "
                            "config names it")

        def decorator(obj: D) -> D:
            problem = self._refuses(obj) if self._refuses is not None else None
            if problem:
                raise TypeError(f"{self.kind} {name!r}: {_describe(obj)} {problem}")
            if name in self._entries and not _same_definition(self._entries[name], obj):
                raise KeyError(f"{self.kind} {name!r} is registered twice: {_describe(self._entries[name])} and "
                               f"{_describe(obj)}")
            self._entries[name] = cast(T, obj)  # (checked at run time by refuses, not by a type checker)
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; choose from: {', '.join(sorted(self._entries))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
