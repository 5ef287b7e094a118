"""An import's uploaded file in the database: stored in pieces, read back into a local file."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient

from importing import FileSource, Source
from models import ClientImportFileChunk
from resolvers.unit_of_work import in_transaction_retried

# A piece is one row: small enough that neither process nor driver holds much of the file,
# large enough that a 100 MB file is a hundred statements.
FILE_CHUNK_BYTES = 1 << 20


async def store_file(conn: BaseDBAsyncClient, import_id: UUID, source: Source) -> None:
    """Write the file as pieces of FILE_CHUNK_BYTES, read from the source one at a time."""
    for seq, offset in enumerate(range(0, source.size, FILE_CHUNK_BYTES)):
        piece = await asyncio.to_thread(source.read_at, offset, FILE_CHUNK_BYTES)
        await ClientImportFileChunk.create(
            client_import_id=import_id, seq=seq, data=piece, using_db=conn
        )


@asynccontextmanager
async def stored_file(import_id: UUID) -> AsyncIterator[Source | None]:
    """The import's file, copied a piece at a time into a temporary file of this process
    (deleted on exit) and read from there; None when it is no longer stored."""
    with tempfile.TemporaryFile() as copy:
        seq = 0
        while (piece := await _piece(import_id, seq)) is not None:
            await asyncio.to_thread(copy.write, piece)
            seq += 1
        if not seq:
            yield None
            return
        copy.flush()
        yield FileSource(copy)


async def _piece(import_id: UUID, seq: int) -> bytes | None:
    # Read on the writing connection: on SQLite a read connection would then keep a page
    # cache (64 MiB each under the embedded default) full of the file's pages for nothing,
    # while the writing one fills its cache with the import's own pages anyway. Each piece
    # is a short transaction of its own.
    async def read(conn: BaseDBAsyncClient) -> bytes | None:
        pieces = (
            await ClientImportFileChunk.filter(client_import_id=import_id, seq=seq)
            .using_db(conn)
            .values_list("data", flat=True)
        )
        return bytes(pieces[0]) if pieces else None

    return await in_transaction_retried(read)


async def forget_file(import_id: UUID, conn: BaseDBAsyncClient | None = None) -> None:
    """Drop an import's uploaded file (client data) once nothing will read it again."""
    await ClientImportFileChunk.filter(client_import_id=import_id).using_db(conn).delete()
