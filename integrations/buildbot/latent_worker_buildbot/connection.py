"""How the adapter reaches Temporal: the one place that knows, the way Temporal's own tools do.

TLS, mutual TLS, the API key and gRPC headers come from the profile of Temporal's config file
(TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE, temporal.toml) and the TEMPORAL_* variables over it
(temporalio.envconfig), as for the worker and the `latent-worker` CLI; the address and namespace
given in master.cfg (else TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, see settings_for) win over the
profile. Nothing here logs or prints the API key or a private key.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile

from . import contract

_SETTINGS = {
    "client_cert": "the client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH/_DATA, tls.client_cert_* in the profile)",
    "client_private_key": "the client private key (TEMPORAL_TLS_CLIENT_KEY_PATH/_DATA, tls.client_key_* in the profile)",
    "server_root_ca_cert": "the server CA certificate (TEMPORAL_TLS_SERVER_CA_CERT_PATH/_DATA, tls.server_ca_cert_* in the profile)",
}


class TemporalUnreachable(Exception):
    """No Temporal service answered at the configured address, or the connection settings cannot work."""


class ConnectionSettingError(TemporalUnreachable):
    """A connection setting that cannot be used; the message names it, never a secret's value."""


@dataclass(frozen=True)
class TemporalSettings:
    address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = contract.DEFAULT_TASK_QUEUE
    rpc_timeout: float = 10.0
    connect_timeout: float = 10.0
    poll_interval: float = 0.5
    # The profile of Temporal's config file for TLS and the API key (else TEMPORAL_PROFILE, else "default").
    profile: Optional[str] = None


def settings_for(address: Optional[str], namespace: Optional[str], task_queue: Optional[str]) -> TemporalSettings:
    """The worker's arguments, else the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
    LATENT_WORKER_TASK_QUEUE, as the worker fleet reads them), else the defaults: a master.cfg
    written for OpenStackLatentWorker names none of them."""
    return TemporalSettings(
        address=address or os.environ.get("TEMPORAL_ADDRESS") or TemporalSettings.address,
        namespace=namespace or os.environ.get("TEMPORAL_NAMESPACE") or TemporalSettings.namespace,
        task_queue=task_queue or os.environ.get("LATENT_WORKER_TASK_QUEUE") or TemporalSettings.task_queue,
    )


async def connect(settings: TemporalSettings) -> Client:
    """A Temporal client for `settings`, or TemporalUnreachable naming the setting or temporal_address."""
    kwargs = connect_kwargs(settings.address, settings.namespace, settings.profile)
    try:
        return await asyncio.wait_for(Client.connect(**kwargs), settings.connect_timeout)
    except asyncio.TimeoutError:
        raise TemporalUnreachable(f"temporal_address {describe(kwargs)}: no Temporal service answered within {settings.connect_timeout:g} s") from None
    except RuntimeError as error:
        raise TemporalUnreachable(f"temporal_address {describe(kwargs)}: cannot connect: {error}") from None


def connect_kwargs(address: str, namespace: str, profile: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """Keyword arguments for `Client.connect`: master.cfg's address and namespace, TLS and API key from Temporal's settings."""
    environ = dict(os.environ if env is None else env)
    try:
        loaded = ClientConfigProfile.load(profile=profile, override_env_vars=environ)
    except Exception as error:  # the SDK raises several kinds for a bad file or profile
        raise ConnectionSettingError(f"Temporal config file (profile {profile or environ.get('TEMPORAL_PROFILE') or 'default'}): {error}") from None
    tls = loaded.tls
    if tls is not None and not tls.disabled:
        has_cert, has_key = tls.client_cert is not None, tls.client_private_key is not None
        if has_cert != has_key:
            present, absent = ("client_cert", "client_private_key") if has_cert else ("client_private_key", "client_cert")
            raise ConnectionSettingError(f"{_SETTINGS[present]} is set but {_SETTINGS[absent]} is not: mutual TLS needs both")
        for field in _SETTINGS:
            source = getattr(tls, field)
            # A Path is a file to read; str and bytes are the PEM itself.
            if isinstance(source, Path) and not source.is_file():
                raise ConnectionSettingError(f"{_SETTINGS[field]}: cannot read {source}: no such file")
    try:
        config = loaded.to_client_connect_config()
    except OSError as error:
        raise ConnectionSettingError(f"a TLS file of the Temporal settings cannot be read: {error}") from None
    kwargs: dict[str, Any] = dict(config)
    kwargs["target_host"] = address
    kwargs["namespace"] = namespace
    return kwargs


def describe(kwargs: Mapping[str, Any]) -> str:
    """Where and how, for a message: no key, no certificate."""
    tls = kwargs.get("tls")
    parts = [str(kwargs.get("target_host")), f"namespace {kwargs.get('namespace')}"]
    if not tls:
        parts.append("no TLS")
    else:
        parts.append("mutual TLS" if getattr(tls, "client_cert", None) else "TLS")
    if kwargs.get("api_key"):
        parts.append("API key")
    return ", ".join(parts)
