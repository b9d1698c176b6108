"""Each public client method declared once, made into a blocking and an awaitable twin.

A method is declared on a class that both clients inherit, as a function that
returns a :data:`~kfresearch.plans.Plan`, decorated with :func:`operation`::

    @operation
    def tickers(self) -> Plan[pd.DataFrame]:
        \"\"\"Tickers with mid, spread, premium and funding.\"\"\"
        return plan_single([Call(TICKERS)], frames.tickers)

When a class that derives from :class:`Blocking` (the :class:`~kfresearch.Client`)
or :class:`Awaiting` (the :class:`~kfresearch.AsyncClient`) is made, every such
declaration becomes a real method of that class: ``Client.tickers()`` runs the
plan and returns the DataFrame; ``AsyncClient.tickers()`` is a coroutine
function that returns the same. Both carry the declaration's docstring and its
signature, with the plan's result as return annotation, so ``help()``,
Jupyter's shift-tab, ``inspect.signature`` and IDEs show the real thing; for
mypy, :meth:`Operation.__get__` gives ``Callable[P, R]`` on a blocking client
and ``Callable[P, Coroutine[..., R]]`` on an awaitable one.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, get_args, overload

if TYPE_CHECKING:
    from kfresearch.plans import Plan

__all__ = ["Awaiting", "Blocking", "Operation", "operation"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_PLAN_RESULT = re.compile(r"^Plan\[(?P<result>.+)\]$")


class Blocking:
    """Base of a client whose operations block until their plan is done."""

    def _run(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _materialise(cls, _blocking)


class Awaiting:
    """Base of a client whose operations are coroutine functions."""

    async def _run(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _materialise(cls, _awaiting)


class Operation(Generic[P, R]):
    """A public client method, declared once as a function that returns its plan.

    Classes derived from :class:`Blocking` or :class:`Awaiting` replace it by
    a real method; :attr:`declare` is the declaration.
    """

    def __init__(self, declare: Callable[Concatenate[Any, P], Plan[R]]) -> None:
        self.declare = declare
        self.__name__ = declare.__name__
        self.__qualname__ = declare.__qualname__
        self.__doc__ = declare.__doc__

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Operation[P, R]: ...

    @overload
    def __get__(self, obj: Blocking, owner: type[Any] | None = None) -> Callable[P, R]: ...

    @overload
    def __get__(
        self, obj: Awaiting, owner: type[Any] | None = None
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...

    def __get__(self, obj: Any, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return self
        raise TypeError(
            f"{type(obj).__name__}.{self.declare.__name__} is a declaration: use it on a "
            "class derived from kfresearch.operations.Blocking or Awaiting"
        )


def operation(declare: Callable[Concatenate[Any, P], Plan[R]]) -> Operation[P, R]:
    """Declare a public client method by the function that returns its plan."""
    return Operation(declare)


def _result_annotation(declare: Callable[..., Any]) -> Any:
    """``R`` of the declaration's ``-> Plan[R]`` (a string under postponed annotations)."""
    annotation = inspect.signature(declare).return_annotation
    if isinstance(annotation, str):
        match = _PLAN_RESULT.match(annotation.strip())
        if match:
            return match["result"]
    else:
        args = get_args(annotation)
        if len(args) == 3:
            return args[2]
    raise TypeError(f"{declare.__qualname__} must be annotated '-> Plan[<result type>]'")


def _dress(method: Callable[..., Any], op: Operation[Any, Any], cls: type, name: str) -> None:
    """Give ``method`` the declaration's name, docstring and signature (returning ``R``)."""
    declare = op.declare
    result = _result_annotation(declare)
    method.__name__ = name
    method.__qualname__ = f"{cls.__qualname__}.{name}"
    method.__module__ = cls.__module__
    method.__doc__ = declare.__doc__
    method.__wrapped__ = declare  # type: ignore[attr-defined]  # globals for get_type_hints
    method.__signature__ = inspect.signature(declare).replace(  # type: ignore[attr-defined]
        return_annotation=result
    )
    method.__annotations__ = {**declare.__annotations__, "return": result}
    setattr(cls, name, method)


def _blocking(op: Operation[Any, Any], cls: type, name: str) -> None:
    declare = op.declare

    def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        return self._run(declare(self, *args, **kwargs))

    _dress(method, op, cls, name)


def _awaiting(op: Operation[Any, Any], cls: type, name: str) -> None:
    declare = op.declare

    async def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
        return await self._run(declare(self, *args, **kwargs))

    _dress(method, op, cls, name)


def _materialise(cls: type, make: Callable[[Operation[Any, Any], type, str], None]) -> None:
    """Turn every operation ``cls`` inherits into a method of ``cls``, unless a class
    between them defines that name (an override, or a method made already)."""
    names = {name for klass in cls.__mro__ for name in vars(klass)}
    for name in sorted(names):
        owner = next(klass for klass in cls.__mro__ if name in vars(klass))
        value = vars(owner)[name]
        if isinstance(value, Operation):
            make(value, cls, name)
