"""The seed's image callable, run in the master: a Temporal activity on a task queue of this worker's own.

The lifecycle lists every image its account sees and asks here; the callable runs in a thread of
its own (never on the reactor, never on the asyncio loop), and its choice goes back into the
lifecycle's history, so a replay or a crashed worker process does not ask again.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping, Sequence

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from . import contract


class GlanceImage:
    """One image as Glance describes it, with attribute access as novaclient's images had
    (`image.created`, `image.name`, `image.id`, `image.status`, `image.minDisk`, ...)."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = dict(fields)
        aliases = {"created": "created_at", "updated": "updated_at", "minDisk": "min_disk", "minRam": "min_ram"}
        for alias, field in aliases.items():
            if field in self._fields:
                self._fields.setdefault(alias, self._fields[field])
        self._fields.setdefault("metadata", {key: value for key, value in self._fields.items() if isinstance(value, str)})

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_fields"][name]
        except KeyError:
            raise AttributeError(f"image {self.__dict__['_fields'].get('id')} has no attribute {name!r}") from None

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def to_dict(self) -> dict[str, Any]:
        return dict(self._fields)

    def __repr__(self) -> str:
        return f"<Image {self._fields.get('name')!r} {self._fields.get('id')}>"


def callable_name(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", None) or getattr(function, "__name__", None) or repr(function)


def choose(function: Callable[[list[GlanceImage]], Any], worker_name: str, images: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Calls the callable with the images; its answer must be one of them."""
    name = callable_name(function)
    offered = [GlanceImage(image) for image in images]
    try:
        chosen = function(list(offered))
    except Exception as error:  # noqa: BLE001 - any failure of user code is reported, naming it
        raise ApplicationError(f"worker {worker_name}: image callable {name} raised {type(error).__name__}: {error}", type=contract.FAILURE_IMAGE_FUNCTION_FAILED, non_retryable=True) from None
    if not any(chosen is image for image in offered):
        raise ApplicationError(
            f"worker {worker_name}: image callable {name} returned {chosen!r}, which is not one of the {len(offered)} images it was given",
            type=contract.FAILURE_IMAGE_FUNCTION_FAILED,
            non_retryable=True,
        )
    return {"id": chosen.id, "name": chosen._fields.get("name")}


class ImageChooser:
    """Serves chooseImage for one worker while the master runs."""

    def __init__(self, worker_name: str, function: Callable[[list[GlanceImage]], Any], task_queue: str) -> None:
        self.worker_name = worker_name
        self.function = function
        self.task_queue = task_queue
        self._worker: Worker | None = None
        self._run: asyncio.Task[None] | None = None

    async def start(self, client: Client) -> None:
        @activity.defn(name=contract.MASTER_ACTIVITY_CHOOSE_IMAGE)
        async def choose_image(request: dict[str, Any]) -> dict[str, Any]:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, choose, self.function, self.worker_name, request.get("images", []))

        self._worker = Worker(client, task_queue=self.task_queue, activities=[choose_image])
        self._run = asyncio.ensure_future(self._worker.run())

    async def stop(self) -> None:
        if self._worker is not None:
            await self._worker.shutdown()
        if self._run is not None:
            try:
                await self._run
            except Exception:  # noqa: BLE001 - a worker that stopped on an error has nothing left to stop
                pass
        self._worker = self._run = None
