"""The names the lifecycle worker answers to.

GENERATED from src/contract/names.ts by `npm run contract`: do not edit by hand.
"""

DEFAULT_TASK_QUEUE = "openstack-latent-worker"
LIFECYCLE_WORKFLOW_TYPE = "latentWorkerLifecycle"
WORKFLOW_ID_PREFIX = "latent-worker:"

SIGNAL_ATTACHED = "attached"
SIGNAL_BUILD_STARTED = "build-started"
SIGNAL_BUILD_FINISHED = "build-finished"
SIGNAL_RELEASE = "release"
QUERY_STATUS = "status"
MASTER_ACTIVITY_CHOOSE_IMAGE = "chooseImage"
IMAGE_TASK_QUEUE_PREFIX = "latent-worker-images:"

SEARCH_ATTRIBUTE_WORKER_NAME = "LatentWorkerName"
SEARCH_ATTRIBUTE_PHASE = "LatentWorkerPhase"
SEARCH_ATTRIBUTE_SERVER_ID = "LatentWorkerServerId"
SEARCH_ATTRIBUTE_CLOUD = "LatentWorkerCloud"
SEARCH_ATTRIBUTE_OUTCOME = "LatentWorkerOutcome"
SEARCH_ATTRIBUTE_DEPLOYMENT = "LatentWorkerDeployment"

# In the order a lifecycle moves through them.
PHASES = ("starting", "authenticating", "resolving-image", "creating", "booting", "waiting-for-attach", "attached", "deleting", "done")
OUTCOMES = ("released", "missing", "failed", "cancelled")
RELEASE_REASONS = ("master", "idle")

FAILURE_INVALID_INPUT = "InvalidInput"
FAILURE_LAUNCH_FAILED = "LaunchFailed"
FAILURE_NO_CAPACITY = "NoCapacity"
FAILURE_IMAGE_NOT_FOUND = "ImageNotFound"
FAILURE_IMAGE_NOT_ACTIVE = "ImageNotActive"
FAILURE_IMAGE_FUNCTION_FAILED = "ImageFunctionFailed"
FAILURE_SERVER_ERROR = "ServerError"
FAILURE_BOOT_TIMEOUT = "BootTimeout"
FAILURE_SERVER_VANISHED = "ServerVanished"
FAILURE_SERVER_QUOTA_EXCEEDED = "ServerQuotaExceeded"
FAILURE_OPEN_STACK_QUOTA_EXCEEDED = "OpenStackQuotaExceeded"
FAILURE_BLOCK_DEVICE_SOURCE_NOT_FOUND = "BlockDeviceSourceNotFound"
FAILURE_CREATE_SLOT_TIMEOUT = "CreateSlotTimeout"

INPUT_SCHEMA_FILE = "contract/lifecycle-input.schema.json"


def workflow_id_for(worker_name: str) -> str:
    """One live lifecycle per worker name: a second start of the same name joins it."""
    return WORKFLOW_ID_PREFIX + worker_name


def image_task_queue_for(worker_name: str) -> str:
    """The task queue a master serves chooseImage on for one worker."""
    return IMAGE_TASK_QUEUE_PREFIX + worker_name
