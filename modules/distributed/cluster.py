"""Starting or joining the Ray cluster, and placing worker actors on its nodes.

``--ray auto`` starts a local head in this process, with Ray's dashboard off and Ray's token authentication on.  ``--ray ADDRESS`` joins a cluster started with ``ray start --head`` (and ``ray start --address ...``
on the other machines); the cluster's own flags decide what it listens on there.  Ray is imported here only,
and only when ``--ray`` is given: the default start never imports it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from modules.core.install_dir import INSTALL_DIR
from modules.distributed.worker import WorkerRuntime

NAMESPACE = "webui"
WORKER_CPUS = 0.01
"""Ray CPUs a CPU worker asks for: only a label (torch uses the threads it wants); a node's worker count comes
from ``--ray-workers``, not from Ray's CPU count."""


class RayUnavailableError(RuntimeError):
    """``--ray`` was given but the ``ray`` package is not installed (``pip install -r requirements-ray.txt``)."""


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray  # why: optional requirement, only with --ray
    except ImportError as e:
        raise RayUnavailableError("--ray needs the ray package: pip install -r requirements-ray.txt") from e
    return ray


def worker_env() -> dict[str, str]:
    """The environment of worker processes: this install's code on the path, the thread settings of this one."""
    env = {"PYTHONPATH": os.pathsep.join([INSTALL_DIR] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    for name in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def connect(address: str, *, num_cpus: int | None = None, temp_dir: str | None = None) -> Any:
    """Start (``auto``) or join (an address) the cluster; returns the ``ray`` module."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    common: dict[str, Any] = {"namespace": NAMESPACE, "runtime_env": {"env_vars": worker_env()},
                              "log_to_driver": True, "configure_logging": False}
    if address == "auto":
        # A fresh local head, without dashboard.  Ray 2.60 binds its GCS and raylet ports to the node's address and
        # refuses a loopback node address (it resolves 127.0.0.1 to the primary interface), so the ports are
        # guarded by Ray's token authentication (on by default since 2.5x; never turned off here): see README.
        ray.init(address="local", include_dashboard=False, num_cpus=num_cpus, _temp_dir=temp_dir, **common)
    else:
        ray.init(address=address, **common)
    return ray


@dataclass
class NodeInfo:
    """A live Ray node and the worker actors it should hold."""

    node_id: str
    address: str
    gpus: int
    cpus: int = 1

    def worker_count(self, per_node: int | None) -> int:
        """One worker per GPU; on a CPU-only node ``--ray-workers`` (default 1), at most the CPUs the node offers
        to Ray (``ray start --num-cpus``), so a small node joining gets fewer."""
        if self.gpus:
            return self.gpus
        return max(1, min(per_node or 1, self.cpus))


def live_nodes(ray: Any) -> list[NodeInfo]:
    """The cluster's live nodes, in a stable order."""
    nodes = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        resources = node.get("Resources") or {}
        nodes.append(NodeInfo(node["NodeID"], node.get("NodeManagerAddress", ""), int(resources.get("GPU", 0)),
                              max(1, int(resources.get("CPU", 1)))))
    return sorted(nodes, key=lambda n: n.node_id)


def spawn_worker(ray: Any, name: str, argv: list[str], node: NodeInfo, threads: int | None = None,
                 setup: dict[str, Any] | None = None) -> Any:
    """A worker actor pinned to ``node`` (restarted by Ray when its process dies; its chunk is re-run elsewhere)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # why: optional package

    options: dict[str, Any] = {
        "name": name, "namespace": NAMESPACE, "lifetime": None, "max_restarts": -1, "max_task_retries": 0,
        "max_concurrency": 4,  # run() in one thread; progress, interrupt and describe answer meanwhile
        "scheduling_strategy": NodeAffinitySchedulingStrategy(node.node_id, soft=False),
    }
    if node.gpus:
        options["num_gpus"] = 1
        options["num_cpus"] = 1
    else:
        options["num_cpus"] = WORKER_CPUS
    actor_class = ray.remote(WorkerRuntime)
    return actor_class.options(**options).remote(name, argv, threads, setup)


def shutdown() -> None:
    """Leave (or stop, for ``auto``) the cluster when this process started Ray."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
