"""`rustok-search import FILE`: a bulk import run here, with a progress bar, a summary and the
refused lines (I/O: the file, PostgreSQL)."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from core_write.settings import Settings

READ_BYTES = 1024 * 1024
SHOWN_ERRORS = 1000


def file_sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as source:
        while block := source.read(READ_BYTES):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


async def read_file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while block := source.read(READ_BYTES):
            yield block


async def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when every line was written, 1 when some were refused (each is printed), 2 for
    a file that cannot be read."""
    from core_write import bulk_import, import_jobs
    from core_write.resources import open_resources
    from rustok_search.progress import bar

    path = Path(args.file)
    if not path.is_file():  # noqa: ASYNC240 - a CLI's one check before it starts
        print(f"rustok-search import: no file {path}", file=sys.stderr)
        return 2
    sha256, size = file_sha256(path)
    async with open_resources(settings, redis_required=False) as res:
        pool = res.pool
        tenant_id = await _tenant(pool, args.tenant)
        job = None
        if args.id:
            from core_write.ids import parse_id

            job = await import_jobs.get_job(pool, parse_id(args.id, "--id"))
        elif args.resume:
            job = await import_jobs.resumable_job(pool, tenant_id, sha256)
            if job is None:
                print("nothing to resume for this file and tenant: importing from line 1",
                      file=sys.stderr)
        if job is not None and job["tenant_id"] != tenant_id:
            print(f"rustok-search import: import {job['id']} belongs to another tenant",
                  file=sys.stderr)
            return 2
        if job is None:
            job = await import_jobs.create_job(pool, tenant_id, "cli", source=str(path),
                                               total_bytes=size, source_sha256=sha256)
        elif job["lines_done"]:
            print(f"resuming import {job['id']} after line {job['lines_done']} "
                  f"(byte {job['bytes_done']})", file=sys.stderr)
        print(f"import {job['id']}: {path} ({size:,} bytes)", file=sys.stderr, flush=True)
        started = time.monotonic()
        with bar("importing (bytes)", size) as shown:
            shown.update(job["bytes_done"], size)
            importer = bulk_import.Importer(pool, job, chunk_lines=args.chunk,
                                            on_chunk=_follow(shown.update, size))
            done = await importer.run(read_file(path), "cli", size)
        view = await import_jobs.job_view(pool, done, errors=SHOWN_ERRORS)
    return report(view, time.monotonic() - started, importer.lines_this_run)


def _follow(update: Callable[..., None], size: int) -> Callable[[dict[str, Any]], None]:
    def on_chunk(job: dict[str, Any]) -> None:
        update(job["bytes_done"], size,
               note=f"line {job['lines_done']:,}, {job['failed']:,} refused")
    return on_chunk


def report(job: dict[str, Any], seconds: float, lines: int) -> int:
    """Print the summary and the refused lines; the exit code."""
    rate = lines / seconds if seconds > 0 else 0.0
    print(f"import {job['id']} {job['state']}: {job['lines_done']:,} lines, "
          f"{job['written']:,} written, {job['failed']:,} refused; this run {lines:,} lines "
          f"in {seconds:.1f} s ({rate:,.0f} lines/s)")
    for error in job["errors"]:
        where = f"{error['field']}: " if error["field"] else ""
        print(f"line {error['line']}: {where}{error['reason']}")
    if job["failed"] > len(job["errors"]):
        print(f"... and {job['failed'] - len(job['errors']):,} more refused lines "
              f"(GET /v1/admin/import/{job['id']}?errors=1000 lists the first 1000)")
    return 0 if job["state"] == "succeeded" and not job["failed"] else 1


async def _tenant(pool: Any, ref: str | None) -> Any:
    from core_write.errors import ValidationFailed
    from indexer.reindex import resolve_scope

    if ref:
        return (await resolve_scope(pool, ref, None, None)).tenant_id
    rows = await pool.fetch("SELECT id FROM tenants ORDER BY created_at LIMIT 2")
    if len(rows) != 1:
        raise ValidationFailed("--tenant", "name the tenant to import into (slug or id)")
    return rows[0]["id"]


def add_import_parser(sub: Any, positive: Callable[[str], int]) -> None:
    from core_write.bulk_import import CHUNK_LINES

    p = sub.add_parser("import", help="bulk import products and content nodes (NDJSON)")
    p.add_argument("file", help="NDJSON file: one product (or {\"type\": \"node\", ...}) "
                                "per line")
    p.add_argument("--tenant", metavar="SLUG",
                   help="the tenant to import into (slug or id; needed unless there is one)")
    p.add_argument("--resume", action="store_true",
                   help="continue the unfinished import of this same file after its last "
                        "committed line")
    p.add_argument("--id", help="continue this import (its id)")
    p.add_argument("--chunk", type=positive, default=CHUNK_LINES, metavar="LINES",
                   help=f"lines per transaction (default {CHUNK_LINES}, at most 500)")
    p.set_defaults(run=cmd_import)
