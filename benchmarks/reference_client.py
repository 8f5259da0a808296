"""The reference: a minimal asyncio + aiohttp streaming client, the floor llmbench is held to
(with ``--no-stream``: the same client asking for whole JSON answers, which is what
lm-evaluation-harness does).

One ``ClientSession``, a connector allowing ``--in-flight`` connections, ``--in-flight``
workers taking requests from a shared counter (a semaphore by another name), each request's
SSE stream read line by line with every event parsed as JSON, time to first token and
generation tokens/s recorded as llmbench defines them. Nothing else: no retries, no files
until the end.

``python benchmarks/reference_client.py --url URL --requests N --in-flight K --out FILE``
writes ``{"first_request_at", "records": [[start, end, ttft_s, tokens_per_s, ok], ...]}`` to
FILE (``start`` and ``end`` are ``time.time()``; ``ttft_s`` and ``tokens_per_s`` are null for a
failed request, and always with ``--no-stream``) and exits 0 when every request succeeded.
``--uvloop`` runs it on uvloop instead of asyncio's own loop.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import sys
import time
from typing import Any

import aiohttp

Record = tuple[float, float, float | None, float | None, bool]


async def one_whole_request(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> bool:
    """Send one chat request for a whole answer; True when it came back with a message."""
    async with session.post(url, json=body) as resp:
        data = await resp.read()
        if resp.status != 200:
            return False
    choices = json.loads(data).get("choices")
    return bool(choices and choices[0].get("message", {}).get("content"))


async def one_request(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any]
) -> tuple[float | None, float | None]:
    """Send one streaming chat request; (TTFT, generation tokens/s), or Nones on failure."""
    sent = time.perf_counter()
    first = last = None
    pieces = 0
    usage_tokens = None
    async with session.post(url, json=body) as resp:
        if resp.status != 200:
            await resp.read()
            return None, None
        async for line in resp.content:
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                break
            event = json.loads(payload)
            if event.get("usage"):
                usage_tokens = event["usage"].get("completion_tokens")
            choices = event.get("choices")
            if choices and choices[0].get("delta", {}).get("content"):
                now = time.perf_counter()
                if first is None:
                    first = now
                last = now
                pieces += 1
    if first is None or last is None:
        return None, None
    tokens = usage_tokens or pieces
    rate = (tokens - 1) / (last - first) if tokens > 1 and last > first else None
    return first - sent, rate


async def run(
    url: str, requests: int, in_flight: int, prompt: str, stream: bool = True
) -> tuple[float, list[Record]]:
    body: dict[str, Any] = {
        "model": "bench-model",
        "messages": [{"role": "user", "content": prompt}],
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    records: list[Record] = []
    counter = itertools.count()
    connector = aiohttp.TCPConnector(limit=in_flight)
    first_request_at = 0.0

    async def worker() -> None:
        nonlocal first_request_at
        while next(counter) < requests:
            start = time.time()
            if not first_request_at:
                first_request_at = start
            ttft = rate = None
            try:
                if stream:
                    ttft, rate = await one_request(session, url, body)
                    ok = ttft is not None
                else:
                    ok = await one_whole_request(session, url, body)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                ok = False
            records.append((start, time.time(), ttft, rate, ok))

    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker() for _ in range(in_flight)))
    return first_request_at, records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the chat completions URL")
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--in-flight", type=int, required=True)
    parser.add_argument("--prompt", default="What is 2 + 3?")
    parser.add_argument("--out", required=True, help="where to write the records (JSON)")
    parser.add_argument("--cpu", type=int, help="pin the client to this CPU")
    parser.add_argument("--no-stream", action="store_true", help="ask for whole JSON answers")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    job = run(args.url, args.requests, args.in_flight, args.prompt, stream=not args.no_stream)
    if args.uvloop:
        import uvloop

        first, records = uvloop.run(job)
    else:
        first, records = asyncio.run(job)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"first_request_at": first, "records": records}, fh)
    return 0 if all(r[4] for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
