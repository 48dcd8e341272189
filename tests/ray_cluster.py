"""A Ray cluster of several nodes on this machine, on loopback only, for the audit tests.

Each node is a `ray start --block` process with its own temp folder, ports and resources; stopping
a node signals that process, which stops everything it started (a plain `ray stop` would stop every
Ray on the machine, the tests' or not).

On Linux, Ray turns 127.0.0.1 into the machine's network address unless it runs as on a single
machine (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0), and in that mode `ray start --address` refuses to add
a node. A joining node is therefore started through a small launcher that lets the single-machine
mode add it; every address stays 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# `ray start` with the check against joining nodes answered yes; everything else as Ray does it
JOIN_LAUNCHER = """
import sys, types
import ray._private.ray_constants as constants
import ray.scripts.scripts as scripts

class JoiningConstants(types.ModuleType):
    ENABLE_RAY_CLUSTER = True
    def __getattr__(self, name):
        return getattr(constants, name)

scripts.ray_constants = JoiningConstants("ray_constants")
sys.exit(scripts.main())
"""


def ray_env() -> dict[str, str]:
    """The environment of every Ray process of the tests and of the audits they run."""
    env = dict(os.environ)
    env.update({
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # node addresses on loopback
        "RAY_AUTH_MODE": "disabled",  # loopback only; no token written to the home folder
        "RAY_USAGE_STATS_ENABLED": "0",
        # a node that stops answering is declared dead within seconds, not half a minute
        "RAY_health_check_initial_delay_ms": "0",
        "RAY_health_check_period_ms": "500",
        "RAY_health_check_timeout_ms": "500",
        "RAY_health_check_failure_threshold": "3",
    })
    return env


def processes() -> dict[int, tuple[int, str]]:
    """Every process on the machine: pid -> (parent pid, name)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1: stat.rindex(")")]
        found[int(entry.name)] = (int(stat[stat.rindex(")") + 2:].split()[1]), name)
    return found


def descendants(root: int, name_prefix: str) -> list[int]:
    """Pids below `root` whose process name starts with `name_prefix`."""
    table = processes()
    out = []
    for pid, (parent, name) in table.items():
        if not name.startswith(name_prefix):
            continue
        while parent > 1 and parent != root:
            parent = table.get(parent, (0, ""))[0]
        if parent == root:
            out.append(pid)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    process: subprocess.Popen[bytes]
    temp_dir: Path
    log: Path

    def child(self, name: str) -> int | None:
        """Pid of the process called `name` (e.g. raylet) that this node started."""
        return next((pid for pid, (parent, comm) in processes().items()
                     if comm == name and parent == self.process.pid), None)


class LoopbackCluster:
    def __init__(self) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[Node] = []

    def _start(self, args: list[str], index: int) -> Node:
        # short paths: Ray's unix sockets live in the temp folder and their names are length-limited
        temp_dir = Path(tempfile.mkdtemp(prefix=f"se-ray{index}-", dir="/tmp"))
        log = temp_dir / "start.log"
        low = 20000 + (self.port % 100) * 400 + index * 200
        ports = [f"--min-worker-port={low}", f"--max-worker-port={low + 99}",
                 f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
                 f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
                 f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}"]
        with open(log, "wb") as out:
            process = subprocess.Popen([*args, "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}", *ports,
                                        "--block", "--disable-usage-stats"],
                                       stdout=out, stderr=subprocess.STDOUT, env=ray_env(), start_new_session=True)
        node = Node(process, temp_dir, log)
        self.nodes.append(node)
        return node

    def start_head(self, num_cpus: int, resources: str) -> Node:
        ray = str(Path(sys.executable).with_name("ray"))
        node = self._start([ray, "start", "--head", f"--port={self.port}", f"--num-cpus={num_cpus}",
                            f"--resources={resources}", "--include-dashboard=false"], 0)
        self._wait_for("Ray runtime started", node)
        return node

    def add_node(self, num_cpus: int, resources: str) -> Node:
        node = self._start([sys.executable, "-c", JOIN_LAUNCHER, "start", f"--address={self.address}",
                            f"--num-cpus={num_cpus}", f"--resources={resources}"], len(self.nodes))
        self._wait_for("Ray runtime started", node)
        return node

    def _wait_for(self, text: str, node: Node, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in node.log.read_text(errors="replace"):
                return
            if node.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"ray node did not start:\n{node.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in reversed(self.nodes):
            try:
                node.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            try:  # whatever the node started and outlived it (its own process group)
                os.killpg(node.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            node.process.wait(timeout=10)
            shutil.rmtree(node.temp_dir, ignore_errors=True)
