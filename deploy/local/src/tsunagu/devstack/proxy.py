"""A TCP relay for fault tests: cut it and every connection through it drops, new ones are
refused, as when a server goes away; restore it and they get through again. Hang it and nothing
is refused or dropped but nothing gets through either, as with a frozen server; ``flow`` lets
it through again. ``lose_answer_to`` loses one answer on its way back: the server did what it was
asked, the client sees its connection drop and cannot know (a COMMIT whose outcome is unknown).
The fault is real for the one client that goes through it, while the server keeps serving
everyone else."""

from __future__ import annotations

import asyncio


class TcpProxy:
    """Relays 127.0.0.1:``port`` (free, chosen at first start) to ``target``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._marker: bytes | None = None
        #: Answers lost so far (``lose_answer_to``).
        self.answers_lost = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    def hang(self) -> None:
        """Keep every connection open and accept new ones, but pass no byte on."""
        self._flowing.clear()

    def flow(self) -> None:
        """Pass bytes on again (what waited is delivered)."""
        self._flowing.set()

    def lose_answer_to(self, marker: bytes) -> None:
        """The next bytes from a client that contain ``marker`` reach the server; its answer
        is dropped and that connection cut both ways once the server has answered (so it has
        done what it was asked). Once."""
        self._marker = marker

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        losing = False

        async def pipe(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, upstream: bool
        ) -> None:
            nonlocal losing
            try:
                while data := await src.read(65536):
                    await self._flowing.wait()
                    if upstream and self._marker is not None and self._marker in data:
                        self._marker, losing = None, True  # set before the server can answer
                    elif not upstream and losing:
                        self.answers_lost += 1
                        writer.transport.abort()
                        up_writer.transport.abort()
                        return
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()
                self._writers.discard(dst)

        await asyncio.gather(
            pipe(reader, up_writer, upstream=True), pipe(up_reader, writer, upstream=False)
        )

    def url(self, database_url: str) -> str:
        from sqlalchemy.engine import make_url

        return (
            make_url(database_url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )
