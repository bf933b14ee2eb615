"""Starts, watches and releases one worker's lifecycle through the Temporal Python SDK.

Every call carries a timeout: an RPC timeout for each request, an overall bound for each wait.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Mapping

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from . import contract

WORKER_NAME_KEY = SearchAttributeKey.for_keyword(contract.SEARCH_ATTRIBUTE_WORKER_NAME)
CLOUD_KEY = SearchAttributeKey.for_keyword(contract.SEARCH_ATTRIBUTE_CLOUD)


class LifecycleError(Exception):
    """The lifecycle failed, ended before the server was ready, or did not answer in time."""


@dataclass(frozen=True)
class TemporalSettings:
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = contract.DEFAULT_TASK_QUEUE
    rpc_timeout: float = 10.0
    connect_timeout: float = 10.0
    poll_interval: float = 0.5


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

    async def wait_for_phase(self, lifecycle: Lifecycle, phase: str, timeout: float) -> dict[str, Any]:
        """Polls the status query until the lifecycle reaches `phase` (or later); raises if it ends first."""
        try:
            return await asyncio.wait_for(self._poll_phase(lifecycle, phase), timeout)
        except asyncio.TimeoutError:
            raise LifecycleError(f"lifecycle {contract.workflow_id_for(lifecycle.worker_name)} did not reach {phase} within {timeout:g} s") from None

    async def signal(self, lifecycle: Lifecycle, signal: str) -> bool:
        """Sends `signal` to the run; False when that run has already closed (nothing left to tell)."""
        async with self._signals:
            try:
                await (await self._handle(lifecycle)).signal(signal, rpc_timeout=self._rpc_timeout)
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

    async def _poll_phase(self, lifecycle: Lifecycle, phase: str) -> dict[str, Any]:
        handle = await self._handle(lifecycle)
        while True:
            description = await handle.describe(rpc_timeout=self._rpc_timeout)
            if description.status is not None and description.status.name != "RUNNING":
                # A closed run says more through its result (the failure) than through its last status.
                result = await self.result(lifecycle, self.settings.rpc_timeout)
                raise LifecycleError(f"lifecycle ended ({result.get('outcome')}) before reaching {phase}: {result.get('status', {}).get('error', 'no error given')}")
            status: dict[str, Any] = await handle.query(contract.QUERY_STATUS, rpc_timeout=self._rpc_timeout)
            if status.get("outcome") or contract.reached(status.get("phase", ""), phase):
                if status.get("outcome") and not contract.reached(status.get("phase", ""), phase):
                    raise LifecycleError(f"lifecycle ended ({status['outcome']}) before reaching {phase}: {status.get('error', 'no error given')}")
                return status
            await asyncio.sleep(self.settings.poll_interval)

    async def _handle(self, lifecycle: Lifecycle) -> WorkflowHandle[Any, Any]:
        # A reconfig may have replaced this client since the run started: connect on first use.
        client = await self._connect()
        return client.get_workflow_handle(contract.workflow_id_for(lifecycle.worker_name), run_id=lifecycle.run_id)

    async def _connect(self) -> Client:
        async with self._connecting:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(Client.connect(self.settings.address, namespace=self.settings.namespace), self.settings.connect_timeout)
                except asyncio.TimeoutError:
                    raise LifecycleError(f"temporal_address {self.settings.address}: no Temporal service answered within {self.settings.connect_timeout:g} s") from None
                except RuntimeError as error:
                    raise LifecycleError(f"temporal_address {self.settings.address}: cannot connect: {error}") from None
            return self._client

    @property
    def _rpc_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.rpc_timeout)


def _cause(error: BaseException) -> str:
    """The innermost failure's message: the lifecycle's own reason, not 'Workflow execution failed'."""
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error)
