"""TemporalOpenStackLatentWorker: Buildbot's OpenStackLatentWorker, with the server's whole life
run by the `latentWorkerLifecycle` workflow of an openstack-latent-worker deployment.

It takes OpenStackLatentWorker's arguments with their meaning and defaults, so a master.cfg written
from Buildbot's documentation changes only the class name. The master keeps Buildbot's side
(rendering per build, the missing timer and its workerMissing report, build_wait_timeout); the
account arguments travel to the worker fleet sealed with the fleet's public key; an image callable
runs here, in the master, when the lifecycle asks for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Coroutine, Mapping, Optional, Sequence
from urllib.parse import urlsplit

from buildbot import config
from buildbot.interfaces import IRenderable, LatentWorkerFailedToSubstantiate
from buildbot.util.latent import CompatibleLatentWorkerMixin
from buildbot.worker import AbstractLatentWorker
from temporalio.service import RPCError
from twisted.internet import defer
from twisted.python import log

from . import contract
from .bridge import AsyncioThread
from .connection import TemporalSettings, settings_for
from .image_chooser import ImageChooser, callable_name
from .lifecycle import Lifecycle, LifecycleClient, LifecycleError
from .sealing import SealingKeyError, public_key_from_env, seal
from .spec import ServerOptions, SpecError, SpecInputs, Timing, check_name, check_server_options, check_timing, worker_spec

# OpenStackLatentWorker's account arguments, and `cloud` (a clouds.yaml name the fleet resolves).
ACCOUNT_ARGUMENTS = ("os_username", "os_password", "os_tenant_name", "os_auth_url", "os_user_domain", "os_project_domain", "os_auth_args", "region", "cloud")
# Buildbot's latent workers default to 10 minutes; the seed document says 20 for OpenStack.
DEFAULT_MISSING_TIMEOUT = 20 * 60


@dataclass(frozen=True)
class Account:
    """The account arguments as master.cfg gave them (renderables and util.Secret included)."""

    values: Mapping[str, Any]

    @property
    def given(self) -> bool:
        return any(value is not None for value in self.values.values())

    def problems(self) -> list[str]:
        """OpenStackLatentWorker's own checks, plus `cloud` as a third way to name the account."""
        v = self.values
        for argument, value in v.items():
            if value is None or IRenderable.providedBy(value):
                continue
            if argument == "os_auth_args":
                if not isinstance(value, Mapping):
                    return ["os_auth_args: must be a mapping of keystoneauth arguments (auth_url, username, ...)"]
            elif not isinstance(value, str) or not value:
                return [f"{argument}: must be a non-empty string or a renderable such as util.Secret(...), not {type(value).__name__}"]
        if v.get("cloud") is not None:
            return []
        if v.get("os_auth_args") is not None:
            auth_args = v["os_auth_args"]
            if isinstance(auth_args, Mapping) and auth_args.get("auth_url") is None:
                return ["os_auth_args: 'auth_url' is missing"]
            return []
        missing = [argument for argument in ("os_auth_url", "os_username", "os_password") if v.get(argument) is None]
        if missing:
            return [f"{', '.join(missing)}: missing; give os_auth_url, os_username and os_password (and os_tenant_name), or os_auth_args, or cloud (a clouds.yaml name the worker fleet holds)"]
        return []


class TemporalOpenStackLatentWorker(CompatibleLatentWorkerMixin, AbstractLatentWorker):
    """A latent worker whose server is booted and deleted by an openstack-latent-worker lifecycle."""

    _lifecycle: Optional[Lifecycle] = None
    _client: Optional[LifecycleClient] = None
    _thread: Optional[AsyncioThread] = None
    _chooser: Optional[ImageChooser] = None

    def checkConfig(
        self,
        name: str,
        password: Optional[str],
        flavor: Any,
        os_username: Any = None,
        os_password: Any = None,
        os_tenant_name: Any = None,
        os_auth_url: Any = None,
        os_user_domain: Any = None,
        os_project_domain: Any = None,
        os_auth_args: Any = None,
        block_devices: Optional[Sequence[Mapping[str, Any]]] = None,
        region: Any = None,
        image: Any = None,
        meta: Optional[Mapping[str, Any]] = None,
        nova_args: Optional[Mapping[str, Any]] = None,
        client_version: Any = "2",
        cloud: Any = None,
        boot_timeout: float = 10 * 60,
        launch_attempts: int = 3,
        temporal_address: Optional[str] = None,
        temporal_namespace: Optional[str] = None,
        task_queue: Optional[str] = None,
        start_timeout: Optional[float] = None,
        stop_timeout: float = 5 * 60,
        missing_timeout: float = DEFAULT_MISSING_TIMEOUT,
        build_wait_timeout: float = 10 * 60,
        **kwargs: Any,
    ) -> None:
        account = Account(dict(os_username=os_username, os_password=os_password, os_tenant_name=os_tenant_name, os_auth_url=os_auth_url, os_user_domain=os_user_domain, os_project_domain=os_project_domain, os_auth_args=os_auth_args, region=region, cloud=cloud))
        problems = list(account.problems()) if account.given else []
        if account.given and not problems:
            try:
                public_key_from_env()
            except SealingKeyError as error:
                problems.append(f"{', '.join(argument for argument, value in account.values.items() if value is not None)}: {error}")
        checks = [
            lambda: check_name(name),
            lambda: check_timing(Timing(missing_timeout, boot_timeout, build_wait_timeout, launch_attempts)),
            lambda: _check_settings(temporal_address, temporal_namespace, task_queue, start_timeout, stop_timeout),
        ]
        server = ServerOptions(flavor, _image_for_check(image), block_devices, meta, nova_args, client_version)
        # Values that use build properties are checked once rendered, at substantiation.
        if not _has_renderable(server):
            checks.append(lambda: check_server_options(server))
        for check in checks:
            try:
                check()
            except SpecError as error:
                problems.append(str(error))
        for problem in problems:
            config.error(f"TemporalOpenStackLatentWorker {name}: {problem}")
        super().checkConfig(name, password, build_wait_timeout=build_wait_timeout, missing_timeout=missing_timeout, **kwargs)

    @defer.inlineCallbacks
    def reconfigService(
        self,
        name: str,
        password: Optional[str],
        flavor: Any,
        os_username: Any = None,
        os_password: Any = None,
        os_tenant_name: Any = None,
        os_auth_url: Any = None,
        os_user_domain: Any = None,
        os_project_domain: Any = None,
        os_auth_args: Any = None,
        block_devices: Optional[Sequence[Mapping[str, Any]]] = None,
        region: Any = None,
        image: Any = None,
        meta: Optional[Mapping[str, Any]] = None,
        nova_args: Optional[Mapping[str, Any]] = None,
        client_version: Any = "2",
        cloud: Any = None,
        boot_timeout: float = 10 * 60,
        launch_attempts: int = 3,
        temporal_address: Optional[str] = None,
        temporal_namespace: Optional[str] = None,
        task_queue: Optional[str] = None,
        start_timeout: Optional[float] = None,
        stop_timeout: float = 5 * 60,
        missing_timeout: float = DEFAULT_MISSING_TIMEOUT,
        build_wait_timeout: float = 10 * 60,
        **kwargs: Any,
    ) -> Any:
        # notify_on_missing stays with Buildbot: a worker that never connects, or whose lifecycle
        # fails, is reported by the master's own workerMissing (MailNotifier, WorkerMissingGenerator).
        yield super().reconfigService(name, password, build_wait_timeout=build_wait_timeout, missing_timeout=missing_timeout, **kwargs)
        self.account = Account(dict(os_username=os_username, os_password=os_password, os_tenant_name=os_tenant_name, os_auth_url=os_auth_url, os_user_domain=os_user_domain, os_project_domain=os_project_domain, os_auth_args=os_auth_args, region=region, cloud=cloud))
        self.image_callable: Optional[Callable[..., Any]] = image if callable(image) and not IRenderable.providedBy(image) else None
        self.server_options = ServerOptions(flavor, None if self.image_callable else image, block_devices, meta, nova_args, client_version)
        self.timing = Timing(missing_timeout, boot_timeout, build_wait_timeout, launch_attempts)
        self.temporal = settings_for(temporal_address, temporal_namespace, task_queue)
        # Booting may take every launch attempt; authentication, the image and quota waits come on top.
        self.start_timeout = start_timeout if start_timeout is not None else launch_attempts * boot_timeout + 5 * 60
        self.stop_timeout = stop_timeout
        if self._thread is None:
            self._thread = AsyncioThread(f"temporal-{name}")
        self._thread.start()
        yield self._serve_image_callable()

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        result = yield super().stopService()
        if self._chooser is not None:
            chooser, self._chooser = self._chooser, None
            try:
                yield self._call(chooser.stop())
            except Exception as error:  # noqa: BLE001 - stopping goes on
                log.msg(f"{self.name}: stopping the image callable's activity worker: {error}")
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
        if self.image_callable is not None:
            if self._chooser is None:
                # Temporal did not answer when the master (re)started: serve the callable now.
                yield self._serve_image_callable()
            if self._chooser is None:
                raise LatentWorkerFailedToSubstantiate(self.name, f"image callable {callable_name(self.image_callable)}: cannot serve it: no Temporal service answered at {self.temporal.address}")
            server = ServerOptions(server.flavor, self._master_choice(), server.block_devices, server.meta, server.nova_args, server.client_version)
        try:
            spec = worker_spec(SpecInputs(self.name, self._cloud_label(), server, self.timing, ()))
            if self.account.given:
                spec["sealedCredentials"] = yield self._sealed_account(spec["clientVersion"])
        except (SpecError, SealingKeyError) as error:
            raise LatentWorkerFailedToSubstantiate(self.name, str(error)) from None
        client = self._client_for(self.temporal)
        try:
            self._lifecycle = yield self._call(client.start(spec, _string_properties(build)))
            log.msg(f"{self.name}: lifecycle {contract.workflow_id_for(self.name)} run {self._lifecycle.run_id} started")
            status = yield self._call(client.wait_until_active(self._lifecycle, self.start_timeout))
        except (LifecycleError, RPCError) as error:
            # The lifecycle deletes whatever it launched before it ends; nothing is left to stop.
            self._lifecycle = None
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
    def _sealed_account(self, client_version: str) -> Any:
        # Secrets are rendered here, in the master, and leave it sealed for the worker fleet only.
        values = yield self.renderSecrets({key: value for key, value in self.account.values.items() if value is not None})
        account = dict(values)
        if "os_auth_args" in account:
            account["os_auth_args"] = dict(account["os_auth_args"])
        account["client_version"] = client_version
        return seal(json.dumps(account), public_key_from_env(), self.name)

    def _cloud_label(self) -> str:
        """What the Web UI shows for the cloud: a clouds.yaml name or the auth URL's host and path
        and the project, never a credential (renderables, e.g. a util.Secret URL, are not shown)."""
        values = self.account.values
        if isinstance(values.get("cloud"), str):
            return values["cloud"]
        url = values.get("os_auth_url")
        if isinstance(url, str):
            parts = urlsplit(url)
            project = values.get("os_tenant_name")
            label = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
            return f"{label}#{project}" if isinstance(project, str) else label
        return "master.cfg" if self.account.given else "worker fleet"

    def _master_choice(self) -> dict[str, str]:
        assert self.image_callable is not None
        return {"resolver": "master", "taskQueue": contract.image_task_queue_for(self.name), "callable": callable_name(self.image_callable)}

    @defer.inlineCallbacks
    def _serve_image_callable(self) -> Any:
        if self._chooser is not None:
            chooser, self._chooser = self._chooser, None
            yield self._call(chooser.stop())
        if self.image_callable is None:
            return
        chooser = ImageChooser(self.name, self.image_callable, contract.image_task_queue_for(self.name))
        client = self._client_for(self.temporal)
        try:
            yield self._call(client.serve(chooser))
        except LifecycleError as error:
            # Substantiations fail with the lifecycle's own message until Temporal answers.
            log.msg(f"{self.name}: cannot serve the image callable yet: {error}")
            return
        self._chooser = chooser

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


def _image_for_check(image: Any) -> Any:
    """A callable is checked for being callable; what it returns is checked when it runs."""
    if callable(image) and not IRenderable.providedBy(image):
        return {"resolver": "master", "taskQueue": "-", "callable": callable_name(image)}
    return image


def _check_settings(address: Any, namespace: Any, task_queue: Any, start_timeout: Any, stop_timeout: Any) -> None:
    if address is not None and (not isinstance(address, str) or ":" not in address):
        raise SpecError(f"temporal_address: {address!r} must be HOST:PORT of the Temporal frontend, such as 127.0.0.1:7233")
    for argument, value in (("temporal_namespace", namespace), ("task_queue", task_queue)):
        if value is not None and (not isinstance(value, str) or not value):
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
