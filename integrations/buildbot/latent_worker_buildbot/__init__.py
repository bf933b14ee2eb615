"""Buildbot adapter for openstack-latent-worker: latent workers whose servers are Temporal lifecycles."""

from .worker import TemporalOpenStackLatentWorker

__all__ = ["TemporalOpenStackLatentWorker"]
