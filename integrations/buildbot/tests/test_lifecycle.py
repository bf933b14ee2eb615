"""The wait for ACTIVE answers "ready" only for a server that is ACTIVE, and asks a worker process only when the phase moved."""

import asyncio

from temporalio.client import WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from twisted.trial import unittest

from latent_worker_buildbot import contract
from latent_worker_buildbot.connection import TemporalSettings
from latent_worker_buildbot.lifecycle import ACTIVE_PHASES, ENDED, PENDING, PHASE_KEY, READY, Lifecycle, LifecycleClient, active_readiness


class ActiveReadinessTest(unittest.TestCase):
    def test_active_phases_are_contract_phases(self) -> None:
        for phase in ACTIVE_PHASES:
            self.assertIn(phase, contract.PHASES)

    def test_ready_only_once_active(self) -> None:
        self.assertEqual(active_readiness({"phase": "waiting-for-attach"}), READY)
        self.assertEqual(active_readiness({"phase": "attached"}), READY)

    def test_still_booting_is_pending(self) -> None:
        for phase in ("starting", "authenticating", "resolving-image", "creating", "booting"):
            self.assertEqual(active_readiness({"phase": phase}), PENDING, phase)

    def test_a_server_being_deleted_is_not_ready(self) -> None:
        # Between two launches: the failed launch's server goes, another may follow.
        self.assertEqual(active_readiness({"phase": "deleting"}), PENDING)
        # The lifecycle is ending: its failure is the answer.
        self.assertEqual(active_readiness({"phase": "deleting", "outcome": "failed", "error": "all 3 launch attempts failed"}), ENDED)
        self.assertEqual(active_readiness({"phase": "done", "outcome": "missing"}), ENDED)
        self.assertEqual(active_readiness({"phase": "done"}), ENDED)

    def test_an_outcome_ends_the_wait_whatever_the_phase(self) -> None:
        self.assertEqual(active_readiness({"phase": "attached", "outcome": "released"}), ENDED)


class _Description:
    def __init__(self, phase: str) -> None:
        self.status = WorkflowExecutionStatus.RUNNING
        self.typed_search_attributes = TypedSearchAttributes([SearchAttributePair(PHASE_KEY, phase)])


class _BootingHandle:
    """A lifecycle that boots for `ticks` describes, then waits for its CI worker."""

    def __init__(self, ticks: int) -> None:
        self.describes = 0
        self.queries = 0
        self._ticks = ticks

    def _phase(self) -> str:
        return "booting" if self.describes <= self._ticks else "waiting-for-attach"

    async def describe(self, rpc_timeout: object = None) -> _Description:
        self.describes += 1
        return _Description(self._phase())

    async def query(self, name: str, rpc_timeout: object = None) -> dict:
        self.queries += 1
        return {"phase": self._phase()}


class WaitUntilActiveTest(unittest.TestCase):
    def test_asks_the_worker_only_when_the_phase_moved(self) -> None:
        # A master waits on many lifecycles at once: the describe, which the Temporal server
        # answers alone, carries the phase; the status query goes on to a worker process.
        handle = _BootingHandle(ticks=10)
        client = LifecycleClient(TemporalSettings(poll_interval=0))

        async def fake_handle(lifecycle: Lifecycle) -> _BootingHandle:
            return handle

        client._handle = fake_handle  # type: ignore[method-assign]
        status = asyncio.run(client.wait_until_active(Lifecycle("w", "run"), timeout=10))
        self.assertEqual(status["phase"], "waiting-for-attach")
        self.assertEqual(handle.describes, 11)
        self.assertEqual(handle.queries, 2)
