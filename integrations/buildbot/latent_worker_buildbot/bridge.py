"""Runs asyncio coroutines (the Temporal SDK's world) from Twisted (Buildbot's world).

Buildbot 3.7's reactor is not asyncio, so the Temporal client lives on an event loop of its own
in a daemon thread; each call comes back to the reactor thread as a Deferred.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, TypeVar

from twisted.internet import defer
from twisted.internet.interfaces import IReactorThreads
from twisted.python import failure

T = TypeVar("T")


class AsyncioThread:
    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        if self._loop is not None:
            return
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

    def run(self, reactor: IReactorThreads, coroutine: Coroutine[Any, Any, T]) -> defer.Deferred:
        """Schedules `coroutine` on the loop; the Deferred fires on the reactor thread with its outcome."""
        if self._loop is None:
            coroutine.close()
            return defer.fail(RuntimeError(f"{self._name}: the asyncio thread is not running"))
        result: defer.Deferred = defer.Deferred()
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)

        def done(finished: concurrent.futures.Future) -> None:
            if finished.cancelled():
                reactor.callFromThread(result.errback, failure.Failure(defer.CancelledError()))
            elif finished.exception() is not None:
                reactor.callFromThread(result.errback, failure.Failure(finished.exception()))
            else:
                reactor.callFromThread(result.callback, finished.result())

        future.add_done_callback(done)
        return result

    def stop(self, timeout: float = 10.0) -> None:
        """Stops the loop once the calls on it finish, waiting at most `timeout` seconds."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None

        async def drain() -> None:
            pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            if pending:
                await asyncio.wait(pending, timeout=timeout)
            loop.stop()

        asyncio.run_coroutine_threadsafe(drain(), loop)
        thread.join(timeout + 1)
        if not thread.is_alive():
            loop.close()
