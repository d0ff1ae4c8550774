"""``/healthz``: whether the server answers. No work at all, on the event loop itself: a load
balancer's check, and the benchmark's baseline of the loop's own latency (see
``benchmarks/bench_web.py``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")
