"""Builds the lifecycle's WorkerSpec (src/workflows/types.ts) from a Buildbot worker's arguments.

The checks and defaults are those of the latent-worker process's config (src/config/schema.ts),
so a bad value fails in the master with the argument's name instead of inside a lifecycle.
Everything returned here goes into workflow history: it never holds the worker's password.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence


class SpecError(ValueError):
    """A worker argument that the lifecycle cannot work from; the message names the argument."""


WORKER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE)
CLIENT_VERSION = re.compile(r"^(1\.1|2|2\.\d+)$")
META_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

SELECTOR_KEYS = {"name", "tags", "properties", "visibility", "pick"}
VISIBILITIES = ("public", "private", "shared", "community")
PICKS = ("newest", "oldest")
BLOCK_DEVICE_KEYS = {"uuid", "volume_size", "device_name", "source_type", "destination_type", "delete_on_termination", "boot_index"}
SOURCE_TYPES = ("image", "snapshot", "volume")
DESTINATION_TYPES = ("volume", "local")


@dataclass(frozen=True)
class Timing:
    """The lifecycle's clocks, in seconds, with the latent-worker config's defaults."""

    missing_timeout: float = 20 * 60
    boot_timeout: float = 10 * 60
    build_wait_timeout: float = 10 * 60
    launch_attempts: int = 3


@dataclass(frozen=True)
class ServerOptions:
    """What shapes the server, after Buildbot rendered the build's properties into it."""

    flavor: Any
    image: Any = None
    block_devices: Sequence[Mapping[str, Any]] | None = None
    meta: Mapping[str, Any] | None = None
    nova_args: Mapping[str, Any] | None = None
    # Buildbot's OpenStackLatentWorker default (the latent-worker config file's is the seed's '1.1').
    client_version: Any = "2"


@dataclass(frozen=True)
class SpecInputs:
    name: str
    cloud: str
    server: ServerOptions
    timing: Timing = field(default_factory=Timing)
    notify_on_missing: Sequence[str] = ()


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not WORKER_NAME.match(name):
        raise SpecError(f"name: {name!r} must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


def check_timing(timing: Timing) -> Timing:
    for argument in ("missing_timeout", "boot_timeout"):
        value = getattr(timing, argument)
        if not _is_number(value) or value <= 0:
            raise SpecError(f"{argument}: {value!r} must be a number of seconds above 0")
    if not _is_number(timing.build_wait_timeout):
        raise SpecError(f"build_wait_timeout: {timing.build_wait_timeout!r} must be a number of seconds (0: release after each build, negative: never)")
    attempts = timing.launch_attempts
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 20:
        raise SpecError(f"launch_attempts: {attempts!r} must be a whole number from 1 to 20")
    return timing


def check_notify_on_missing(value: Any) -> list[str]:
    addresses = [value] if isinstance(value, str) else value
    if not isinstance(addresses, (list, tuple)):
        raise SpecError(f"notify_on_missing: {value!r} must be an email address or a list of them")
    for address in addresses:
        if not isinstance(address, str) or not EMAIL.match(address):
            raise SpecError(f"notify_on_missing: {address!r} is not an email address")
    return list(addresses)


def check_server_options(server: ServerOptions) -> dict[str, Any]:
    """The camelCase server part of a WorkerSpec; raises SpecError naming the first bad argument."""
    if server.image is None and server.block_devices is None:
        raise SpecError("image: give image, block_devices, or both")
    spec: dict[str, Any] = {
        "flavor": _flavor(server.flavor),
        "meta": _meta(server.meta),
        "clientVersion": _client_version(server.client_version),
    }
    if server.image is not None:
        spec["image"] = _image(server.image)
    if server.block_devices is not None:
        spec["blockDevices"] = _block_devices(server.block_devices)
    if server.nova_args is not None:
        spec["novaArgs"] = _nova_args(server.nova_args)
    return spec


def worker_spec(inputs: SpecInputs) -> dict[str, Any]:
    """The WorkerSpec a lifecycle starts from."""
    timing = check_timing(inputs.timing)
    if not isinstance(inputs.cloud, str) or not inputs.cloud:
        raise SpecError(f"cloud: {inputs.cloud!r} must be a non-empty label naming the cloud (shown in the Web UI)")
    return {
        "name": check_name(inputs.name),
        "cloud": inputs.cloud,
        **check_server_options(inputs.server),
        "missingTimeoutSeconds": timing.missing_timeout,
        "bootTimeoutSeconds": timing.boot_timeout,
        "buildWaitTimeoutSeconds": timing.build_wait_timeout,
        "launchAttempts": timing.launch_attempts,
        "notifyOnMissing": check_notify_on_missing(list(inputs.notify_on_missing)),
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _flavor(flavor: Any) -> str:
    if isinstance(flavor, str) and flavor:
        return flavor
    if isinstance(flavor, int) and not isinstance(flavor, bool) and flavor >= 0:
        return str(flavor)
    raise SpecError(f"flavor: {flavor!r} must be a flavor id or name (text, or a whole number)")


def _client_version(version: Any) -> str:
    if isinstance(version, float):
        # 2.60 as a number is 2.6: a different microversion.
        raise SpecError(f"client_version: {version!r} must be written as text, such as '2.60' (a number loses trailing zeros)")
    text = str(version) if isinstance(version, (int, str)) and not isinstance(version, bool) else None
    if text is None or not CLIENT_VERSION.match(text):
        raise SpecError(f"client_version: {version!r} must be '1.1' (deprecated), '2' or '2.N' (a compute microversion)")
    return text


def _image(image: Any) -> Any:
    if isinstance(image, str) and image:
        return image
    if isinstance(image, Mapping):
        return _image_selector(image)
    raise SpecError(f"image: {image!r} must be an image UUID or name, a callable given the list of images, or a selector {{name, tags, properties, visibility, pick}}")


def _image_selector(selector: Mapping[str, Any]) -> dict[str, Any]:
    if dict(selector) == {"resolver": "function"}:
        return {"resolver": "function"}
    if selector.get("resolver") == "master":
        # The worker's own callable, served by this master (image_chooser.py).
        return {"resolver": "master", "taskQueue": str(selector["taskQueue"]), "callable": str(selector["callable"])}
    unknown = set(selector) - SELECTOR_KEYS
    if unknown:
        raise SpecError(f"image: unknown selector key(s) {sorted(unknown)}; valid keys are {sorted(SELECTOR_KEYS)}")
    if selector.get("pick") not in PICKS:
        raise SpecError(f"image.pick: {selector.get('pick')!r} must be one of {list(PICKS)}")
    checked: dict[str, Any] = {"pick": selector["pick"]}
    if "name" in selector:
        pattern = selector["name"]
        try:
            re.compile(pattern)
        except (re.error, TypeError) as error:
            raise SpecError(f"image.name: {pattern!r} must be a valid regular expression ({error})") from None
        checked["name"] = pattern
    if "tags" in selector:
        tags = selector["tags"]
        if not isinstance(tags, (list, tuple)) or not all(isinstance(tag, str) and tag for tag in tags):
            raise SpecError(f"image.tags: {tags!r} must be a list of non-empty strings")
        checked["tags"] = list(tags)
    if "properties" in selector:
        properties = selector["properties"]
        if not isinstance(properties, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in properties.items()):
            raise SpecError(f"image.properties: {properties!r} must map strings to strings")
        checked["properties"] = dict(properties)
    if "visibility" in selector:
        if selector["visibility"] not in VISIBILITIES:
            raise SpecError(f"image.visibility: {selector['visibility']!r} must be one of {list(VISIBILITIES)}")
        checked["visibility"] = selector["visibility"]
    return checked


def _block_devices(devices: Any) -> list[dict[str, Any]]:
    if not isinstance(devices, (list, tuple)) or not devices:
        raise SpecError("block_devices: give a non-empty list of block devices, or leave block_devices out")
    return [_block_device(device, f"block_devices[{index}]") for index, device in enumerate(devices)]


def _block_device(device: Any, where: str) -> dict[str, Any]:
    if not isinstance(device, Mapping):
        raise SpecError(f"{where}: {device!r} must be a mapping with at least 'uuid'")
    unknown = set(device) - BLOCK_DEVICE_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)}; valid keys are {sorted(BLOCK_DEVICE_KEYS)}")
    uuid = device.get("uuid")
    if not isinstance(uuid, str) or not UUID.match(uuid):
        raise SpecError(f"{where}.uuid: {uuid!r} must be the UUID of the image, snapshot or volume")
    source = device.get("source_type", "image")
    destination = device.get("destination_type", "volume")
    if source not in SOURCE_TYPES:
        raise SpecError(f"{where}.source_type: {source!r} must be one of {list(SOURCE_TYPES)}")
    if destination not in DESTINATION_TYPES:
        raise SpecError(f"{where}.destination_type: {destination!r} must be one of {list(DESTINATION_TYPES)}")
    if destination == "local" and source != "image":
        raise SpecError(f"{where}.destination_type: local needs source_type image, not {source}")
    device_name = device.get("device_name", "vda")
    if not isinstance(device_name, str) or not re.match(r"^[a-z]+$", device_name):
        raise SpecError(f"{where}.device_name: {device_name!r} must be a device name such as vda or xvda")
    boot_index = device.get("boot_index", 0)
    if isinstance(boot_index, bool) or not isinstance(boot_index, int) or boot_index < -1:
        raise SpecError(f"{where}.boot_index: {boot_index!r} must be -1 (not bootable) or a boot position from 0")
    delete = device.get("delete_on_termination", True)
    if not isinstance(delete, bool):
        raise SpecError(f"{where}.delete_on_termination: {delete!r} must be true or false")
    checked: dict[str, Any] = {
        "uuid": uuid,
        "deviceName": device_name,
        "sourceType": source,
        "destinationType": destination,
        "deleteOnTermination": delete,
        "bootIndex": boot_index,
    }
    size = device.get("volume_size")
    if size is not None:
        if destination == "local":
            raise SpecError(f"{where}.volume_size: only applies to destination_type volume")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise SpecError(f"{where}.volume_size: {size!r} must be a whole number of GiB above 0")
        checked["volumeSize"] = size
    return checked


def _meta(meta: Any) -> dict[str, str]:
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise SpecError(f"meta: {meta!r} must be a mapping of metadata keys to values")
    if len(meta) > 124:
        raise SpecError("meta: at most 124 metadata items (Nova allows 128; 4 mark ownership)")
    for key, value in meta.items():
        if not isinstance(key, str) or not META_KEY.match(key):
            raise SpecError(f"meta: key {key!r}: metadata keys are 1-255 letters, digits, spaces or -_:.")
        if not isinstance(value, str) or len(value) > 255:
            raise SpecError(f"meta.{key}: {value!r} must be text of at most 255 characters")
    return dict(meta)


def _nova_args(nova_args: Any) -> dict[str, Any]:
    if not isinstance(nova_args, Mapping) or not all(isinstance(key, str) for key in nova_args):
        raise SpecError(f"nova_args: {nova_args!r} must be a mapping of novaclient servers.create keyword arguments")
    try:
        # It travels in workflow history as JSON.
        return json.loads(json.dumps(dict(nova_args)))
    except (TypeError, ValueError) as error:
        raise SpecError(f"nova_args: values must be plain data (text, numbers, lists, mappings): {error}") from None
