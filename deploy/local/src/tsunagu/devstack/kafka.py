"""A real Apache Kafka broker (KRaft) from the official jars, run with the machine's Java: one
node, or a cluster of three (``KafkaCluster``) with the production manifests' replication."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

#: Pinned; aiokafka 0.14 speaks this broker's protocol versions (docs/adr/0002).
KAFKA_VERSION = "4.1.1"
POM = Path(__file__).resolve().parents[3] / "kafka" / "pom.xml"


def cache_dir() -> Path:
    base = Path(os.environ.get("TSUNAGU_CACHE_DIR", Path.home() / ".cache" / "tsunagu"))
    return base / f"kafka-{KAFKA_VERSION}"


def ensure_jars(log: object = print) -> Path:
    """Resolve the broker jars once with Maven into a cache outside the clone."""
    libs = cache_dir() / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed once to fetch the Kafka jars")
    libs.mkdir(parents=True, exist_ok=True)
    log(  # type: ignore[operator]
        f"fetching the Apache Kafka {KAFKA_VERSION} jars with Maven into {libs} "
        "(once; the first run downloads for a minute or two) ..."
    )
    # Maven's own output (even with -q it prints terminal codes) is shown only when it fails.
    fetched = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(POM),
            f"-Dkafka.version={KAFKA_VERSION}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if fetched.returncode != 0:
        raise RuntimeError(
            f"Maven could not fetch the Kafka jars (exit {fetched.returncode}):\n"
            + fetched.stdout[-4000:]
        )
    marker.write_text(KAFKA_VERSION)
    return libs


_LOG4J = """\
Configuration:
  status: warn
  Appenders:
    File:
      name: file
      fileName: "{log}"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: info
      AppenderRef:
        - ref: file
    Logger:
      - name: kafka
        level: warn
      - name: org.apache.kafka
        level: warn
"""


#: What the production manifests set on a three-node cluster (deploy/k8s/overlays/prod):
#: three replicas, two in sync before a write counts.
CLUSTER_SETTINGS = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
}
SINGLE_NODE_SETTINGS = {
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
}


@dataclass
class KafkaServer:
    """One KRaft node (broker and controller) listening on 127.0.0.1:``port``; alone, or one of
    a cluster (``voters`` names every controller, ``cluster_id`` is shared)."""

    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "768m"
    process: subprocess.Popen[bytes] | None = None
    node_id: int = 1
    voters: str | None = None
    cluster_id: str | None = None
    settings: dict[str, str] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    def _write_config(self) -> Path:
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        cfg = self.data_dir / "server.properties"
        voters = self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}"
        settings = self.settings or SINGLE_NODE_SETTINGS
        cfg.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={self.node_id}",
                    f"controller.quorum.voters={voters}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.data_dir / 'data'}",
                    "num.partitions=6",
                    "offsets.topic.num.partitions=6",
                    *(f"{key}={value}" for key, value in settings.items()),
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "",
                ]
            )
        )
        (self.data_dir / "log4j2.yaml").write_text(_LOG4J.format(log=logs / "server.log"))
        return cfg

    def running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def start(self, timeout: float = 90.0) -> None:
        if self.launch():
            self.wait_open(timeout)

    def launch(self) -> bool:
        """Start the process (without waiting for its port); False if it already runs."""
        if self.running_pid() is not None:
            return True
        libs = ensure_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cfg = self._write_config()
        java = shutil.which("java") or "java"
        classpath = f"{libs}/*"
        if not (self.data_dir / "data" / "meta.properties").exists():
            # One argument, "--cluster-id=…": a Kafka id is URL-safe base64 and one in 64
            # begins with "-", which the tool would read as an option of its own.
            formatted = subprocess.run(
                [java, "-cp", classpath, "kafka.tools.StorageTool", "format",
                 f"--cluster-id={self.cluster_id or _kafka_uuid()}", "-c", str(cfg),
                 "--ignore-formatted"],
                capture_output=True,
                text=True,
            )  # fmt: skip
            if formatted.returncode != 0:
                raise RuntimeError(
                    f"formatting Kafka's storage in {self.data_dir} failed:"
                    f" {formatted.stderr.strip()[-2000:]}"
                )
        out = open(self.data_dir / "logs" / "stdout.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                java,
                f"-Xmx{self.heap}",
                f"-Xms{self.heap}",
                "-XX:+UseG1GC",
                "-XX:TieredStopAtLevel=1",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.yaml'}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(cfg),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid_file.write_text(str(self.process.pid))
        return True

    def wait_open(self, timeout: float = 90.0) -> None:
        """Until the broker's port answers (perhaps started by another session)."""
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Kafka exited; see {self.data_dir / 'logs'}")
            if self.running_pid() is None and self.process is None:
                raise RuntimeError(f"Kafka is not running; see {self.data_dir / 'logs'}")
            if time.monotonic() > deadline:
                raise TimeoutError("Kafka did not open its port in time")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL, as a crash would (chaos tests)."""
        pid = self.running_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10)

    def stop(self, timeout: float = 30.0) -> None:
        pid = self.running_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10)
        self.pid_file.unlink(missing_ok=True)


@dataclass
class KafkaCluster:
    """``size`` KRaft nodes, each broker and controller, as the production manifests run them:
    node ``i`` (from 1) listens on ``port + 2(i-1)`` (broker) and the next port (controller),
    so three nodes on 22092 use 22092..22097. Topics get three replicas and
    ``min.insync.replicas=2``: one node can be lost without losing a write or the quorum."""

    data_dir: Path
    port: int = 9092
    size: int = 3
    heap: str = "512m"
    nodes: list[KafkaServer] = field(default_factory=list)

    def __post_init__(self) -> None:
        ports = [(self.port + 2 * i, self.port + 2 * i + 1) for i in range(self.size)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{c}" for i, (_, c) in enumerate(ports))
        id_file = self.data_dir / "cluster.id"
        if id_file.exists():
            cluster_id = id_file.read_text().strip()
        else:
            cluster_id = _kafka_uuid()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            id_file.write_text(cluster_id)
        settings = CLUSTER_SETTINGS if self.size >= 3 else SINGLE_NODE_SETTINGS
        self.nodes = [
            KafkaServer(
                self.data_dir / f"node{i + 1}",
                port=broker,
                controller_port=controller,
                heap=self.heap,
                node_id=i + 1,
                voters=voters,
                cluster_id=cluster_id,
                settings=settings,
            )
            for i, (broker, controller) in enumerate(ports)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def start(self, timeout: float = 120.0) -> None:
        # A node opens its broker port only once the controllers have a quorum: launch all
        # first, then wait.
        for node in self.nodes:
            node.launch()
        for node in self.nodes:
            node.wait_open(timeout)

    def kill(self) -> None:
        for node in self.nodes:
            node.kill()

    def stop(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.stop(timeout)

    def node(self, node_id: int) -> KafkaServer:
        return self.nodes[node_id - 1]


def _kafka_uuid() -> str:
    """A cluster id as Kafka writes them: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
            if waited == pid:
                return True
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.1)
    return False
