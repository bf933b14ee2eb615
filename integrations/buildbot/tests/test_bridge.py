"""The asyncio thread answers on the reactor thread, with results and exceptions as they were."""

import asyncio
import threading

from twisted.internet import reactor
from twisted.trial import unittest

from latent_worker_buildbot.bridge import AsyncioThread


class AsyncioThreadTest(unittest.TestCase):
    def setUp(self) -> None:
        self.thread = AsyncioThread("test-bridge")
        self.thread.start()
        self.addCleanup(self.thread.stop)

    async def _where(self) -> str:
        await asyncio.sleep(0.01)
        return threading.current_thread().name

    def test_a_coroutine_runs_on_the_loop_thread_and_its_result_comes_back_on_the_reactor_thread(self):
        reactor_thread = threading.current_thread()

        def check(ran_on: str) -> None:
            self.assertEqual(ran_on, "test-bridge")
            self.assertIs(threading.current_thread(), reactor_thread)

        return self.thread.run(reactor, self._where()).addCallback(check)

    def test_an_exception_fails_the_deferred_with_the_same_exception(self):
        async def refuse() -> None:
            raise LookupError("no such lifecycle")

        return self.assertFailure(self.thread.run(reactor, refuse()), LookupError).addCallback(lambda error: self.assertEqual(str(error), "no such lifecycle"))

    def test_calls_after_stop_fail_instead_of_hanging(self):
        self.thread.stop()
        return self.assertFailure(self.thread.run(reactor, self._where()), RuntimeError)
