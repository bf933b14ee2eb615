"""Starts, watches and releases one worker's lifecycle through the Temporal Python SDK.

Every call carries a timeout: an RPC timeout for each request, an overall bound for each wait.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Mapping

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from . import contract
from .connection import TemporalUnreachable, TemporalSettings, connect

WORKER_NAME_KEY = SearchAttributeKey.for_keyword(contract.SEARCH_ATTRIBUTE_WORKER_NAME)
CLOUD_KEY = SearchAttributeKey.for_keyword(contract.SEARCH_ATTRIBUTE_CLOUD)
PHASE_KEY = SearchAttributeKey.for_keyword(contract.SEARCH_ATTRIBUTE_PHASE)


class LifecycleError(Exception):
    """The lifecycle failed, ended before the server was ready, or did not answer in time."""


@dataclass(frozen=True)
class Lifecycle:
    """One run of a worker's lifecycle: signals and waits go to this run, not a later one."""

    worker_name: str
    run_id: str


class LifecycleClient:
    """Lives on the adapter's asyncio thread; connects on first use."""

    def __init__(self, settings: TemporalSettings) -> None:
        self.settings = settings
        self._client: Client | None = None
        # Signals go out one at a time, in the order Buildbot raised them: a build-finished
        # must reach the lifecycle before the release that Buildbot sends right after it.
        self._signals = asyncio.Lock()
        self._connecting = asyncio.Lock()

    async def start(self, spec: Mapping[str, Any], properties: Mapping[str, str]) -> Lifecycle:
        """Starts the lifecycle of spec['name'], or joins the one already running for that name."""
        client = await self._connect()
        name = spec["name"]
        handle = await client.start_workflow(
            contract.LIFECYCLE_WORKFLOW_TYPE,
            {"spec": dict(spec), "properties": dict(properties)},
            id=contract.workflow_id_for(name),
            task_queue=self.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes([SearchAttributePair(WORKER_NAME_KEY, name), SearchAttributePair(CLOUD_KEY, spec["cloud"])]),
            static_summary=f"Latent worker {name}: flavor {spec['flavor']}, image {spec.get('image')} (Buildbot)",
            rpc_timeout=self._rpc_timeout,
        )
        assert handle.result_run_id is not None
        return Lifecycle(name, handle.result_run_id)

    async def serve(self, chooser: Any) -> None:
        """Starts `chooser` (an ImageChooser) on this client's connection."""
        await chooser.start(await self._connect())

    async def wait_until_active(self, lifecycle: Lifecycle, timeout: float) -> dict[str, Any]:
        """Polls the status query until the lifecycle's server is ACTIVE (the lifecycle waits for
        the attach, or has it); raises with the lifecycle's own failure if it ends first."""
        try:
            return await asyncio.wait_for(self._poll_until_active(lifecycle), timeout)
        except asyncio.TimeoutError:
            raise LifecycleError(f"lifecycle {contract.workflow_id_for(lifecycle.worker_name)}: the server was not ACTIVE within {timeout:g} s") from None

    async def signal(self, lifecycle: Lifecycle, signal: str) -> bool:
        """Sends `signal` to the lifecycle, in whichever run it now is; False once it has ended."""
        async with self._signals:
            try:
                await (await self._running_handle(lifecycle)).signal(signal, rpc_timeout=self._rpc_timeout)
                return True
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    return False
                raise

    async def result(self, lifecycle: Lifecycle, timeout: float) -> dict[str, Any]:
        """The run's LifecycleResult once it has ended (server deleted); raises LifecycleError on failure."""
        try:
            handle = await self._handle(lifecycle)
            return await asyncio.wait_for(handle.result(rpc_timeout=self._rpc_timeout), timeout)
        except asyncio.TimeoutError:
            raise LifecycleError(f"lifecycle {contract.workflow_id_for(lifecycle.worker_name)} did not finish within {timeout:g} s") from None
        except WorkflowFailureError as error:
            raise LifecycleError(f"lifecycle {contract.workflow_id_for(lifecycle.worker_name)} failed: {_cause(error)}") from None

    async def _poll_until_active(self, lifecycle: Lifecycle) -> dict[str, Any]:
        handle = await self._handle(lifecycle)
        seen_phase: str | None = None
        while True:
            description = await handle.describe(rpc_timeout=self._rpc_timeout)
            if description.status is not None and description.status.name != "RUNNING":
                # A closed run says more through its result (the failure) than through its last status.
                result = await self.result(lifecycle, self.settings.rpc_timeout)
                raise LifecycleError(f"lifecycle ended ({result.get('outcome')}) before its server was ACTIVE: {result.get('status', {}).get('error', 'no error given')}")
            # The describe carries the phase search attribute, which the Temporal server answers
            # alone; the query travels on to a worker process, so it is asked only when the phase
            # moved. A master waiting on many lifecycles would otherwise load both on every tick.
            phase = description.typed_search_attributes.get(PHASE_KEY)
            if phase is None or phase != seen_phase:
                seen_phase = phase
                status: dict[str, Any] = await handle.query(contract.QUERY_STATUS, rpc_timeout=self._rpc_timeout)
                readiness = active_readiness(status)
                if readiness == READY:
                    return status
                if readiness == ENDED:
                    # Ending: the run's failure (once the server is deleted) is the reason to report.
                    result = await self.result(lifecycle, self.settings.rpc_timeout * 6)
                    raise LifecycleError(f"lifecycle ended ({result.get('outcome')}) before its server was ACTIVE: {result.get('status', {}).get('error', status.get('error', 'no error given'))}")
            await asyncio.sleep(self.settings.poll_interval)

    async def _handle(self, lifecycle: Lifecycle) -> WorkflowHandle[Any, Any]:
        # A reconfig may have replaced this client since the run started: connect on first use.
        client = await self._connect()
        return client.get_workflow_handle(contract.workflow_id_for(lifecycle.worker_name), run_id=lifecycle.run_id)

    async def _running_handle(self, lifecycle: Lifecycle) -> WorkflowHandle[Any, Any]:
        """The run the lifecycle is in now: a long-lived one continues as new to keep its history
        small, so the run `start` returned is followed through its hand-overs (the runs of one
        lifecycle share their first run id); a later lifecycle of the same worker is never taken."""
        handle = await self._handle(lifecycle)
        pinned = await handle.describe(rpc_timeout=self._rpc_timeout)
        if pinned.status != WorkflowExecutionStatus.CONTINUED_AS_NEW:
            return handle
        client = await self._connect()
        latest_handle = client.get_workflow_handle(contract.workflow_id_for(lifecycle.worker_name))
        latest = await latest_handle.describe(rpc_timeout=self._rpc_timeout)
        first_run = pinned.raw_description.workflow_execution_info.first_run_id
        if first_run and latest.raw_description.workflow_execution_info.first_run_id == first_run:
            return client.get_workflow_handle(contract.workflow_id_for(lifecycle.worker_name), run_id=latest.run_id)
        return handle

    async def _connect(self) -> Client:
        async with self._connecting:
            if self._client is None:
                try:
                    self._client = await connect(self.settings)
                except TemporalUnreachable as error:
                    raise LifecycleError(str(error)) from None
            return self._client

    @property
    def _rpc_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.rpc_timeout)


READY, PENDING, ENDED = "ready", "pending", "ended"
# The server is ACTIVE in these phases, and only in these: `deleting` comes after them in the
# lifecycle's order but means a launch failed (another may follow) or the lifecycle is ending.
ACTIVE_PHASES = ("waiting-for-attach", "attached")


def active_readiness(status: Mapping[str, Any]) -> str:
    """Whether a status says the server is ACTIVE (READY), may still become so (PENDING), or never will (ENDED)."""
    if status.get("outcome"):
        return ENDED
    phase = status.get("phase")
    if phase in ACTIVE_PHASES:
        return READY
    if phase == "done":
        return ENDED
    return PENDING


def _cause(error: BaseException) -> str:
    """The innermost failure's message: the lifecycle's own reason, not 'Workflow execution failed'."""
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error)
