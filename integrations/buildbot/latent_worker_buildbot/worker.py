"""TemporalOpenStackLatentWorker: Buildbot's OpenStackLatentWorker, with the server's whole life
run by the `latentWorkerLifecycle` workflow of an openstack-latent-worker deployment.

The master keeps Buildbot's side (rendering per build, the missing timer, build_wait_timeout);
the lifecycle authenticates with the credentials of the latent-worker process's config (looked up
by this worker's name), boots the server, waits for the attach signal and deletes the server.
"""

from __future__ import annotations

from typing import Any, Coroutine, Mapping, Sequence

from buildbot import config
from buildbot.interfaces import IRenderable, LatentWorkerFailedToSubstantiate
from buildbot.util.latent import CompatibleLatentWorkerMixin
from buildbot.worker import AbstractLatentWorker
from temporalio.service import RPCError
from twisted.internet import defer
from twisted.python import log

from . import contract
from .bridge import AsyncioThread
from .lifecycle import Lifecycle, LifecycleClient, LifecycleError, TemporalSettings
from .spec import ServerOptions, SpecError, SpecInputs, Timing, check_name, check_notify_on_missing, check_server_options, check_timing, worker_spec

# OpenStackLatentWorker's credential arguments: here they live in the latent-worker config file.
CREDENTIAL_ARGUMENTS = ("os_username", "os_password", "os_tenant_name", "os_auth_url", "os_user_domain", "os_project_domain", "os_auth_args", "region")


class TemporalOpenStackLatentWorker(CompatibleLatentWorkerMixin, AbstractLatentWorker):
    """A latent worker whose server is booted and deleted by an openstack-latent-worker lifecycle."""

    _lifecycle: Lifecycle | None = None
    _client: LifecycleClient | None = None
    _thread: AsyncioThread | None = None

    def checkConfig(
        self,
        name: str,
        password: str | None,
        flavor: Any,
        image: Any = None,
        block_devices: Sequence[Mapping[str, Any]] | None = None,
        meta: Mapping[str, Any] | None = None,
        nova_args: Mapping[str, Any] | None = None,
        client_version: Any = "2",
        boot_timeout: float = 10 * 60,
        launch_attempts: int = 3,
        cloud: str = "openstack",
        temporal_address: str = "127.0.0.1:7233",
        temporal_namespace: str = "default",
        task_queue: str = contract.DEFAULT_TASK_QUEUE,
        start_timeout: float | None = None,
        stop_timeout: float = 5 * 60,
        missing_timeout: float = 20 * 60,
        notify_on_missing: str | Sequence[str] | None = None,
        build_wait_timeout: float = 10 * 60,
        **kwargs: Any,
    ) -> None:
        given = [argument for argument in CREDENTIAL_ARGUMENTS if argument in kwargs]
        if given:
            config.error(f"TemporalOpenStackLatentWorker {name}: {', '.join(given)}: cloud credentials belong in the latent-worker config file (worker \"{name}\"), not in master.cfg")
            # Buildbot collects config errors and goes on: the base class must still see valid arguments.
            kwargs = {key: value for key, value in kwargs.items() if key not in CREDENTIAL_ARGUMENTS}
        checks = [
            lambda: check_name(name),
            lambda: check_timing(Timing(missing_timeout, boot_timeout, build_wait_timeout, launch_attempts)),
            lambda: check_notify_on_missing(notify_on_missing or []),
            lambda: _check_settings(temporal_address, temporal_namespace, task_queue, cloud, start_timeout, stop_timeout),
        ]
        server = ServerOptions(flavor, image, block_devices, meta, nova_args, client_version)
        # Values that use build properties are checked once rendered, at substantiation.
        if not _has_renderable(server):
            checks.append(lambda: check_server_options(server))
        for check in checks:
            try:
                check()
            except SpecError as error:
                config.error(f"TemporalOpenStackLatentWorker {name}: {error}")
        super().checkConfig(name, password, build_wait_timeout=build_wait_timeout, missing_timeout=missing_timeout, **kwargs)

    @defer.inlineCallbacks
    def reconfigService(
        self,
        name: str,
        password: str | None,
        flavor: Any,
        image: Any = None,
        block_devices: Sequence[Mapping[str, Any]] | None = None,
        meta: Mapping[str, Any] | None = None,
        nova_args: Mapping[str, Any] | None = None,
        client_version: Any = "2",
        boot_timeout: float = 10 * 60,
        launch_attempts: int = 3,
        cloud: str = "openstack",
        temporal_address: str = "127.0.0.1:7233",
        temporal_namespace: str = "default",
        task_queue: str = contract.DEFAULT_TASK_QUEUE,
        start_timeout: float | None = None,
        stop_timeout: float = 5 * 60,
        missing_timeout: float = 20 * 60,
        notify_on_missing: str | Sequence[str] | None = None,
        build_wait_timeout: float = 10 * 60,
        **kwargs: Any,
    ) -> Any:
        # The lifecycle reports a missing worker (through the latent-worker process's notifiers),
        # so Buildbot's own report is left out to avoid sending it twice.
        yield super().reconfigService(name, password, build_wait_timeout=build_wait_timeout, missing_timeout=missing_timeout, notify_on_missing=[], **kwargs)
        self.server_options = ServerOptions(flavor, image, block_devices, meta, nova_args, client_version)
        self.timing = Timing(missing_timeout, boot_timeout, build_wait_timeout, launch_attempts)
        self.notify_addresses = check_notify_on_missing(notify_on_missing or [])
        self.cloud = cloud
        self.temporal = TemporalSettings(address=temporal_address, namespace=temporal_namespace, task_queue=task_queue)
        # Booting may take every launch attempt; authentication, the image and quota waits come on top.
        self.start_timeout = start_timeout if start_timeout is not None else launch_attempts * boot_timeout + 5 * 60
        self.stop_timeout = stop_timeout
        if self._thread is None:
            self._thread = AsyncioThread(f"temporal-{name}")
        self._thread.start()

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        result = yield super().stopService()
        if self._thread is not None:
            self._thread.stop()
        return result

    @defer.inlineCallbacks
    def renderWorkerProps(self, build: Any) -> Any:
        options = self.server_options
        rendered = yield build.render([options.flavor, options.image, options.block_devices, options.meta, options.nova_args, options.client_version])
        return ServerOptions(*rendered)

    @defer.inlineCallbacks
    def start_instance(self, build: Any) -> Any:
        if self._lifecycle is not None:
            raise ValueError(f"worker {self.name}: a lifecycle is already active ({self._lifecycle.run_id})")
        server = yield self.renderWorkerPropsOnStart(build)
        try:
            spec = worker_spec(SpecInputs(self.name, self.cloud, server, self.timing, self.notify_addresses))
        except SpecError as error:
            raise LatentWorkerFailedToSubstantiate(self.name, str(error)) from None
        client = self._client_for(self.temporal)
        try:
            self._lifecycle = yield self._call(client.start(spec, _string_properties(build)))
            log.msg(f"{self.name}: lifecycle {contract.workflow_id_for(self.name)} run {self._lifecycle.run_id} started")
            status = yield self._call(client.wait_for_phase(self._lifecycle, "waiting-for-attach", self.start_timeout))
        except (LifecycleError, RPCError) as error:
            raise LatentWorkerFailedToSubstantiate(self.name, str(error)) from None
        log.msg(f"{self.name}: server {status.get('serverId')} ({status.get('serverName')}) is ACTIVE; waiting for the worker to connect")
        if self.conn is not None:
            # The worker connected while the server was still booting: attached() had no run to tell.
            yield self._tell(contract.SIGNAL_ATTACHED)
        return True

    @defer.inlineCallbacks
    def stop_instance(self, fast: bool = False) -> Any:
        lifecycle, self._lifecycle = self._lifecycle, None
        self.resetWorkerPropsOnStop()
        if lifecycle is None:
            return
        client = self._client_for(self.temporal)
        yield self._call(client.signal(lifecycle, contract.SIGNAL_RELEASE))
        if fast:
            return
        try:
            result = yield self._call(client.result(lifecycle, self.stop_timeout))
        except LifecycleError as error:
            # The lifecycle deletes its server even when it fails; the failure itself is for the log.
            log.msg(f"{self.name}: {error}")
            return
        status = result.get("status", {})
        log.msg(f"{self.name}: lifecycle run {lifecycle.run_id} ended {result.get('outcome')} ({status.get('releaseReason', '-')}); server {result.get('serverId')} deleted at {status.get('deletedAt')}")

    @defer.inlineCallbacks
    def attached(self, conn: Any) -> Any:
        yield super().attached(conn)
        if self.conn is not None and self._lifecycle is not None:
            yield self._tell(contract.SIGNAL_ATTACHED)

    def buildStarted(self, wfb: Any) -> None:
        super().buildStarted(wfb)
        self._deferwaiter.add(self._tell(contract.SIGNAL_BUILD_STARTED))

    def buildFinished(self, wfb: Any) -> None:
        super().buildFinished(wfb)
        self._deferwaiter.add(self._tell(contract.SIGNAL_BUILD_FINISHED))

    @defer.inlineCallbacks
    def _tell(self, signal: str) -> Any:
        """Signals the current run; a failure is logged, as Buildbot's hooks cannot fail."""
        lifecycle = self._lifecycle
        if lifecycle is None:
            return
        try:
            delivered = yield self._call(self._client_for(self.temporal).signal(lifecycle, signal))
        except Exception as error:  # noqa: BLE001 - logged with the signal it concerns
            log.err(error, f"{self.name}: could not send {signal} to lifecycle run {lifecycle.run_id}")
            return
        if not delivered:
            log.msg(f"{self.name}: {signal} not sent: lifecycle run {lifecycle.run_id} has already ended")

    def _client_for(self, settings: TemporalSettings) -> LifecycleClient:
        # New Temporal settings from a reconfig take effect with the next call.
        if self._client is None or self._client.settings != settings:
            self._client = LifecycleClient(settings)
        return self._client

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> defer.Deferred:
        assert self._thread is not None, "reconfigService starts the asyncio thread"
        return self._thread.run(self.master.reactor, coroutine)


def _check_settings(address: Any, namespace: Any, task_queue: Any, cloud: Any, start_timeout: Any, stop_timeout: Any) -> None:
    if not isinstance(address, str) or ":" not in address:
        raise SpecError(f"temporal_address: {address!r} must be HOST:PORT of the Temporal frontend, such as 127.0.0.1:7233")
    for argument, value in (("temporal_namespace", namespace), ("task_queue", task_queue), ("cloud", cloud)):
        if not isinstance(value, str) or not value:
            raise SpecError(f"{argument}: {value!r} must be a non-empty string")
    for argument, value in (("start_timeout", start_timeout), ("stop_timeout", stop_timeout)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise SpecError(f"{argument}: {value!r} must be a number of seconds above 0")


def _has_renderable(value: Any) -> bool:
    if IRenderable.providedBy(value):
        return True
    if isinstance(value, ServerOptions):
        value = [value.flavor, value.image, value.block_devices, value.meta, value.nova_args, value.client_version]
    if isinstance(value, Mapping):
        return any(_has_renderable(key) or _has_renderable(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_renderable(item) for item in value)
    return False


def _string_properties(build: Any) -> dict[str, str]:
    """The build's plain properties as text, for the lifecycle's record (structured ones are left out)."""
    properties: dict[str, str] = {}
    for name, (value, _source) in build.getProperties().asDict().items():
        if isinstance(value, (str, int, float, bool)):
            properties[name] = str(value)
    return properties
