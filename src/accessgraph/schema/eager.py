"""A field's completion started at once (issue 8).

graphql-core gathers the awaitable fields of a list's items into a task each: a nested page's
fifty `tokens` fields each took a task, though each finished in its task's first step (its
loader already held the rows). `started` runs a completion at once, in the caller's task and
context, until it first waits, as Python 3.12's eager tasks do for every task: its value when
it does not wait, else the rest as an awaitable (no task of its own unless gathered).

What graphql-core would see stays the same:

- an error raised by the completion (or a cancellation) comes out when the field is awaited;
- the field errors recorded during the first step are recorded again, in order, when the
  field is awaited (`Recorded`), since graphql-core records them only then: by that time a
  sibling's error may have nulled the parent, and then they are dropped;
- the rest passes a cancellation, or a close, to the completion even before its first step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

from graphql import GraphQLError
from graphql.execution.executor import CollectedErrors
from graphql.pyutils import Path


def started(completing: Coroutine[Any, Any, Any]) -> Any:
    """The completion's value if it finishes without waiting, else an awaitable of it."""
    try:
        waiting = completing.send(None)
    except StopIteration as done:
        return done.value
    except (Exception, asyncio.CancelledError) as error:  # raised when awaited, as before
        return _raising(error)
    return Rest(completing, waiting)


class Rest(Coroutine[Any, Any, Any]):
    """The rest of a started coroutine, run by whichever task awaits it, as that task would
    have run the coroutine itself: what it waits for goes to the event loop, and the answer,
    a cancellation or a close comes back to it."""

    __slots__ = ("_completing", "_waiting")

    def __init__(self, completing: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self._completing = completing
        # A future marks itself as awaited when it yields itself, and the task that receives
        # it clears the mark at once; while it is set, another `await` of the same future
        # fails (two fields awaiting one loader's future). So it is cleared here, as a task
        # would, and set again when the first step passes the future on.
        if getattr(waiting, "_asyncio_future_blocking", False) is True:
            waiting._asyncio_future_blocking = False
            self._waiting: Any = (waiting, True)
        else:
            self._waiting = (waiting, False)

    def send(self, answer: Any) -> Any:
        if self._waiting is not None:  # the first step: what the completion waits for
            waiting, awaited = self._waiting
            self._waiting = None
            if awaited:
                waiting._asyncio_future_blocking = True
            return waiting
        return self._completing.send(answer)

    def throw(self, *error: Any) -> Any:
        self._waiting = None
        return self._completing.throw(*error)

    def close(self) -> None:
        self._waiting = None
        self._completing.close()

    def __await__(self) -> Generator[Any, Any, Any]:
        return self  # its own iterator, as a generator is

    def __iter__(self) -> Rest:
        return self

    def __next__(self) -> Any:
        return self.send(None)


async def _raising(error: BaseException) -> Any:
    raise error


class Recorded(CollectedErrors):
    """The field errors of a first step, each with its position, to be recorded again."""

    __slots__ = ("added",)

    def __init__(self) -> None:
        super().__init__()
        self.added: list[tuple[GraphQLError, Path | None]] = []

    def add(self, error: GraphQLError, path: Path | None) -> None:
        if not self.has_nulled_position(path):
            super().add(error, path)
            self.added.append((error, path))
