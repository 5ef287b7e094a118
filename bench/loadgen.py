"""A bounded HTTP load generator: N concurrent loops for T seconds, latencies recorded."""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]
    failures: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self, label: str) -> str:
        return (
            f"{label:<28} {self.rps:8.0f} req/s   p50 {self.percentile(0.5):6.1f} ms"
            f"   p99 {self.percentile(0.99):6.1f} ms   failures {self.failures}"
        )


async def run_load(
    method: str,
    url: str,
    *,
    seconds: float,
    concurrency: int,
    json: Any = None,
    headers: dict[str, str] | None = None,
    check: Any = None,
) -> LoadResult:
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        # warm up: connections, caches
        for _ in range(concurrency):
            await client.request(method, url, json=json, headers=headers)
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()

        async def loop() -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                response = await client.request(method, url, json=json, headers=headers)
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200 or (check and not check(response)):
                    failures += 1

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), elapsed, latencies, failures)


def median(values: list[float]) -> float:
    return statistics.median(values)
