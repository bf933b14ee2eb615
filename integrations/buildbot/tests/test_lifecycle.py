"""The wait for ACTIVE answers "ready" only for a server that is ACTIVE."""

from twisted.trial import unittest

from latent_worker_buildbot import contract
from latent_worker_buildbot.lifecycle import ACTIVE_PHASES, ENDED, PENDING, READY, active_readiness


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
