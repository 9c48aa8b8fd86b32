"""A limit on the size of every request body, counted as the bytes arrive.

A client that declares a body larger than the limit (``Content-Length``) is answered 413 before
any of it is read; one that streams more than the limit (chunked, or a false length) is stopped
as soon as it passes it. Nothing past the limit is buffered, parsed or written anywhere. Dataset
uploads (``/imports``) have their own, larger limit (the import's total size).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimit", "BodyTooLargeError"]

_MB = 1024 * 1024


def _describe(limit: int) -> str:
    return f"{limit / _MB:g} MB" if limit >= _MB else f"{limit / 1024:g} KB"


class BodyTooLargeError(HTTPException):
    """The body passed the limit; a 413 whose message says the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            detail={
                "detail": f"请求内容过大，上限 {_describe(limit)} / the request body is larger "
                f"than the {_describe(limit)} this address accepts",
                "limit_bytes": limit,
            },
        )


class BodySizeLimit:
    """ASGI middleware refusing bodies over ``default_bytes`` (or a path prefix's own limit)."""

    def __init__(
        self, app: ASGIApp, *, default_bytes: int, by_prefix: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.by_prefix = dict(by_prefix or {})

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.by_prefix.items():
            if path == prefix or path.startswith(prefix + "/"):
                return limit
        return self.default_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        # A malformed length never gets here (the HTTP parser refuses it); the bytes are counted
        # below whatever was declared.
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLargeError:
            # Raised while the body was read outside a route's error handling: answer here.
            if not started:
                await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(BodyTooLargeError(limit).detail, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
