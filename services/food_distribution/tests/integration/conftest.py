"""Food distribution on real PostgreSQL (and real Kafka where a test starts the runtime)."""

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))

from food_kit import Food

from tsunagu.food_distribution.config import FoodConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def food_schema(migrated: Callable[[str], None]) -> None:
    # Alembic runs its own event loop, so this must be a sync fixture.
    migrated("food_distribution")


@pytest.fixture
async def make_food(test_settings, food_schema) -> AsyncIterator[Callable[..., Food]]:
    """Build the real app (runtime not started: no Kafka) with a given desk config."""
    built: list[Food] = []

    def make(**config: object) -> Food:
        food = Food.build(test_settings("food_distribution"), FoodConfig(**config))
        built.append(food)
        return food

    yield make
    for food in built:
        await food.close()


@pytest.fixture
async def food(make_food) -> Food:
    return make_food()


@pytest.fixture
async def served(food: Food) -> AsyncIterator[str]:
    """The real app on a real port (lifespan off: Kafka is not what this test looks at)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(food.app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # uvicorn offers no event to await for "started"
        if server.started:
            break
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
