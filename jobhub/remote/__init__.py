"""The managers over jobhub's HTTP API: ``RemoteJobManager`` (blocking) and
``AsyncRemoteJobManager`` (asyncio), both running the operations of ``operations``."""

from jobhub.remote.aio import AsyncRemoteJobManager, AsyncRemoteRunners
from jobhub.remote.client import RemoteJobManager, RemoteRunners

__all__ = ["AsyncRemoteJobManager", "AsyncRemoteRunners", "RemoteJobManager", "RemoteRunners"]
