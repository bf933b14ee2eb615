"""The names the lifecycle worker answers to (src/client/contract.ts is the source of truth)."""

DEFAULT_TASK_QUEUE = "openstack-latent-worker"
LIFECYCLE_WORKFLOW_TYPE = "latentWorkerLifecycle"

SIGNAL_ATTACHED = "attached"
SIGNAL_BUILD_STARTED = "build-started"
SIGNAL_BUILD_FINISHED = "build-finished"
SIGNAL_RELEASE = "release"
QUERY_STATUS = "status"

# Search attributes the Web UI finds lifecycles by (src/workflows/searchAttributes.ts).
SEARCH_ATTRIBUTE_WORKER_NAME = "LatentWorkerName"
SEARCH_ATTRIBUTE_CLOUD = "LatentWorkerCloud"

# The order a lifecycle moves through, so a caller can wait for "at least" a phase.
PHASE_ORDER = (
    "starting",
    "authenticating",
    "resolving-image",
    "creating",
    "booting",
    "waiting-for-attach",
    "attached",
    "deleting",
    "done",
)


def workflow_id_for(worker_name: str) -> str:
    """One live lifecycle per worker name: a second start of the same name joins it."""
    return f"latent-worker:{worker_name}"


def reached(phase: str, target: str) -> bool:
    """Whether `phase` is `target` or a later one (an unknown phase counts as not yet)."""
    if phase not in PHASE_ORDER:
        return False
    return PHASE_ORDER.index(phase) >= PHASE_ORDER.index(target)
