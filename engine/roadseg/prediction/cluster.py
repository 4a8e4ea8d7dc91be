"""Blocks as Ray tasks: a local Ray cluster on this machine's cores, or an existing cluster.

Imported only when ``cluster`` is given (Ray is an optional extra: ``pip install
roadseg[ray]``). One task per block:

* the model file's bytes are put once in Ray's object store; each worker process
  loads the network from them once and keeps it for the blocks it runs next;
* a task requests ``threads`` CPUs (the network's intra-op threads) and one GPU
  where the cluster has GPUs and ``device`` allows them;
* at most ``workers`` tasks run at once; tasks report their tiles to a small
  actor that the driver polls, so progress is the usual bar / JSON lines;
* a task whose worker dies (killed, out of memory, machine lost) is retried
  (:data:`MAX_RETRIES`); an error in the block itself (a bad raster) stops the run
  with that error;
* a cancel (Ctrl-C in the CLI, the cancel callback of the API) cancels every task.

Every finished block is recorded in the manifest by the driver, so a run killed at
any point — driver or worker — resumes where it stopped.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from roadseg.errors import CancelledError, ConfigError, RoadsegError
from roadseg.prediction.blocks import (
    BlockDone,
    PredictBlock,
    VectorBlock,
    run_predict_block,
    run_vector_block,
)

log = logging.getLogger(__name__)

#: Retries of a task whose worker process died.
MAX_RETRIES = 3
#: Object store of a local cluster (bytes): the model and small results only.
LOCAL_OBJECT_STORE = 128 * 2**20
#: Seconds between progress polls (and cancel checks) of the driver.
POLL_S = 0.25
#: Seconds between a task's progress reports.
REPORT_S = 0.5


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "`cluster` needs Ray, which is not installed",
            param="cluster",
            hint="install it with `pip install roadseg[ray]` (or predict without `cluster`)",
        ) from None
    return ray


def use_ray_token() -> bool:
    """Send Ray's authentication token when the user gave one (joining a cluster).

    A Ray 2.60 driver joining by address sends no token unless ``RAY_AUTH_MODE=token``,
    even with ``RAY_AUTH_TOKEN`` set: the join to a head that checks tokens then times out
    with no word about authentication. When the user gave a token (``RAY_AUTH_TOKEN`` or
    ``RAY_AUTH_TOKEN_PATH``) and no ``RAY_AUTH_MODE``, token mode is set for this process.
    The token file Ray writes for local clusters (``~/.ray/auth_token``) does not count: a
    driver in token mode cannot use a head without authentication (its actors die), so
    that choice stays with the user. Must run before ``import ray`` (Ray reads the mode
    once, at import). Returns whether token mode is on.
    """
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is not None:
        return mode.lower() == "token"
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        os.environ["RAY_AUTH_MODE"] = "token"
        return True
    return False


@dataclass
class RayCluster:
    """A connection to a Ray cluster (started here for ``local``).

    Attributes:
        address: ``local``, ``auto``, ``ray://HOST:PORT`` or ``HOST:PORT``.
        workers: Blocks run at once.
        threads: CPU threads (and CPUs requested) per task.
        gpus: GPUs in the cluster.

    """

    address: str
    workers: int
    threads: int
    gpus: int

    @classmethod
    def connect(cls, address: str, workers: int | None, threads: int | None) -> RayCluster:
        """Start a local cluster or join an existing one; size the tasks."""
        if address != "local":
            use_ray_token()  # before Ray is imported: it reads its auth mode once, at import
        ray = _import_ray()
        kw: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
            "namespace": "roadseg",
        }
        try:
            if address == "local":
                ray.init(
                    num_cpus=os.cpu_count() or 1,
                    object_store_memory=LOCAL_OBJECT_STORE,
                    runtime_env={"env_vars": _worker_env()},
                    **kw,
                )
            else:
                ray.init(address=address, **kw)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"cannot join the Ray cluster at `cluster` {address!r}: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                param="cluster",
                value=address,
                hint="start a Ray head node first (Ray's own `ray start` command), or give "
                "`cluster` local; for a cluster with token authentication set RAY_AUTH_TOKEN "
                "(or RAY_AUTH_MODE=token to use ~/.ray/auth_token)",
            ) from None
        res = ray.cluster_resources()
        cpus, gpus = int(res.get("CPU", 1)), int(res.get("GPU", 0))
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        node_cpus = min((int(n["Resources"].get("CPU", 1)) for n in nodes), default=cpus)
        if workers is None:
            workers = gpus or (1 if address == "local" else max(1, len(nodes)))
        if threads is None:
            per_gpu = cpus // gpus if gpus else cpus
            threads = max(1, min(node_cpus, per_gpu if gpus else cpus // workers))
        return cls(address, workers, threads, gpus)

    def uses_gpu(self, device: str) -> bool:
        """Whether tasks get a GPU (the cluster has some and ``device`` is auto or cuda)."""
        d = (device or "auto").lower()
        return self.gpus > 0 and (d == "auto" or d.startswith("cuda"))

    def executor(
        self, model_sha: str, model_bytes: bytes, gpu: bool, check: Callable[[], None]
    ) -> RayExecutor:
        """An executor running blocks on this cluster with the model put in the object store."""
        ray = _import_ray()
        return RayExecutor(self, model_sha, ray.put(model_bytes), gpu, check)

    def close(self) -> None:
        """Disconnect (a local cluster is stopped)."""
        ray = _import_ray()
        if ray.is_initialized():
            ray.shutdown()


def _worker_env() -> dict[str, str]:
    """Environment the local workers need beyond the driver's (quiet, this engine on the path)."""
    engine = str(Path(__file__).resolve().parents[2])  # the folder holding this roadseg
    path = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": os.pathsep.join(p for p in (engine, path) if p)}


class _Tally:
    """Tiles done per block, as the tasks report them (a Ray actor)."""

    def __init__(self) -> None:
        self.done: dict[str, int] = {}

    def set(self, key: str, n: int) -> None:
        self.done[key] = n

    def get(self) -> dict[str, int]:
        return dict(self.done)


#: The model loaded in this worker process: (sha256, net, meta, predictors by policy).
_MODEL: dict[str, Any] = {}


def _worker_model(sha: str, box: list[Any]) -> tuple[Any, Any]:
    """The network of model ``sha`` in this worker, loaded from the object store once."""
    if _MODEL.get("sha") != sha:
        import ray

        from roadseg.models import load_model

        data = ray.get(box[0])
        folder = Path(tempfile.gettempdir()) / "roadseg-models"
        folder.mkdir(exist_ok=True)
        path = folder / f"{sha}.safetensors"
        if not path.exists():
            tmp = path.with_name(f".{sha}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        net, meta = load_model(path)
        _MODEL.clear()
        _MODEL.update(sha=sha, net=net, meta=meta, predictors={})
    return _MODEL["net"], _MODEL["meta"]


def _predict_task(sha: str, box: list[Any], work: PredictBlock, tally: Any) -> BlockDone:
    """Ray task: predict one block (the model from the object store, cached per worker)."""
    from roadseg.device import resolve_policy
    from roadseg.prediction.network import TilePredictor

    net, meta = _worker_model(sha, box)
    opts = work.options
    policy = resolve_policy(opts.device, opts.precision)
    key = (str(policy.device), policy.precision, opts.tta)
    predictors = _MODEL["predictors"]
    if key not in predictors:
        predictors[key] = TilePredictor(net, policy, tta=opts.tta)
    state = {"n": 0, "t": time.monotonic()}

    def on_tiles(k: int) -> None:
        state["n"] += k
        if time.monotonic() - state["t"] >= REPORT_S:
            state["t"] = time.monotonic()
            tally.set.remote(work.key, state["n"])

    return run_predict_block(work, net, meta, on_tiles, predictors[key])


def _vector_task(work: VectorBlock) -> str:
    """Ray task: vectorise one block."""
    return run_vector_block(work)


class RayExecutor:
    """Runs blocks as Ray tasks (see the module docstring)."""

    def __init__(
        self, cluster: RayCluster, sha: str, model_ref: Any, gpu: bool, check: Callable[[], None]
    ) -> None:
        ray = _import_ray()
        self.ray = ray
        self.cluster = cluster
        self.sha = sha
        self.box = [model_ref]  # in a list: tasks get the reference, not the bytes
        self.gpu = gpu
        self.check = check
        n = cluster.workers
        where = "local" if cluster.address == "local" else cluster.address
        self.description = (
            f"ray {where}, {n} worker{'s' if n > 1 else ''} × {cluster.threads} thread(s)"
            + (", 1 GPU each" if gpu else "")
        )
        opts: dict[str, Any] = {"num_cpus": cluster.threads, "max_retries": MAX_RETRIES}
        if gpu:
            opts["num_gpus"] = 1
        self._predict = ray.remote(_predict_task).options(name="roadseg-predict-block", **opts)
        self._vector = ray.remote(_vector_task).options(
            name="roadseg-vectorize-block", num_cpus=1, max_retries=MAX_RETRIES
        )
        self._tally = ray.remote(num_cpus=0)(_Tally).remote()

    def predict(
        self,
        works: Sequence[PredictBlock],
        on_done: Callable[[PredictBlock, BlockDone], None],
        on_tiles: Callable[[str, int], None],
    ) -> None:
        """Run the blocks as tasks; progress from the tally, results as they come."""
        if self.gpu:  # in a task, the one GPU Ray gives it is cuda:0
            works = [
                replace(w, options=replace(w.options, device="cuda"))
                if w.options.device.startswith("cuda")
                else w
                for w in works
            ]
        seen: dict[str, int] = {}
        tiles = {w.key: w.tiles for w in works}

        def poll() -> None:
            for key, n in self.ray.get(self._tally.get.remote()).items():
                n = min(n, tiles.get(key, n))
                if n > seen.get(key, 0):
                    on_tiles(key, n - seen.get(key, 0))
                    seen[key] = n

        def finished(w: PredictBlock, result: BlockDone) -> None:
            rest = w.tiles - seen.get(w.key, 0)
            seen[w.key] = w.tiles
            if rest > 0:
                on_tiles(w.key, rest)
            on_done(w, result)

        def submit(w: PredictBlock) -> Any:
            return self._predict.remote(self.sha, self.box, w, self._tally)

        self._run(works, submit, finished, poll)

    def vectorize(
        self, works: Sequence[VectorBlock], on_done: Callable[[VectorBlock], None]
    ) -> None:
        """Vectorise the blocks as tasks."""
        self._run(works, self._vector.remote, lambda w, _: on_done(w), lambda: None)

    def _run(
        self,
        works: Sequence[Any],
        submit: Callable[[Any], Any],
        finished: Callable[[Any, Any], None],
        poll: Callable[[], None],
    ) -> None:
        """Keep ``workers`` tasks in flight until all are done; cancel them all on any exit."""
        ray = self.ray
        queue = list(works)
        queue.reverse()
        pending: dict[Any, Any] = {}
        try:
            while queue or pending:
                while queue and len(pending) < self.cluster.workers:
                    w = queue.pop()
                    pending[submit(w)] = w
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                poll()
                for ref in ready:
                    w = pending.pop(ref)
                    finished(w, self._result(ref, w))
                self.check()
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def _result(self, ref: Any, work: Any) -> Any:
        """A task's result; its error as a :class:`RoadsegError`."""
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, RoadsegError):
                raise cause from None
            if isinstance(cause, KeyboardInterrupt | CancelledError):
                raise CancelledError("cancelled by the user") from None
            raise RoadsegError(
                f"block {work.key} failed: {type(cause).__name__ if cause else 'error'}: "
                f"{str(cause).splitlines()[0] if cause and str(cause) else exc}",
                hint="rerun the same command to resume (-v for details)",
            ) from exc
        except ray.exceptions.RayError as exc:
            raise RoadsegError(
                f"block {work.key} failed after {MAX_RETRIES} retries: {str(exc).splitlines()[0]}",
                hint="rerun the same command to resume",
            ) from exc
