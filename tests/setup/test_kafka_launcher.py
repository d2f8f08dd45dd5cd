"""The launcher's Kafka starts whatever cluster id it is given: Kafka's ids are URL-safe base64,
and one in 64 begins with "-"."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from stack import free_port_pair

from tsunagu.devstack.kafka import KafkaServer

pytestmark = pytest.mark.integration


def test_a_cluster_id_beginning_with_a_dash_formats_and_starts(tmp_path: Path) -> None:
    port = free_port_pair()
    server = KafkaServer(
        tmp_path / "kafka", port=port, controller_port=port + 1,
        cluster_id="-qZOF1uiTCOOhYXD8pT_8w",
    )  # fmt: skip
    try:
        server.start()
        meta = (tmp_path / "kafka" / "data" / "meta.properties").read_text()
        assert "cluster.id=-qZOF1uiTCOOhYXD8pT_8w" in meta

        async def cluster_id() -> str:
            admin = AIOKafkaAdminClient(bootstrap_servers=server.bootstrap)
            await admin.start()
            try:
                described = await admin.describe_cluster()
                return str(described["cluster_id"])
            finally:
                await admin.close()

        assert asyncio.run(cluster_id()) == "-qZOF1uiTCOOhYXD8pT_8w"
    finally:
        server.stop()
