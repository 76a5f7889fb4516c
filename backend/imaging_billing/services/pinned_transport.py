"""Webhook connections go to the address that was checked (R-ARR-2 delivery safety).

Checking a URL's host and then letting the HTTP client resolve it again leaves a gap: a
name can answer a public address to the check and a private one to the connection (DNS
rebinding). Here the check happens inside the connection: the network backend resolves
the name once, refuses it unless every address passes `UrlPolicy`, and connects to one
of exactly those addresses. TLS still verifies the certificate against the host name
(httpcore passes the URL's host as the server name), so pinning changes nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpcore
import httpx

from ..domain.errors import RuleViolation
from ..domain.webhooks import check_addresses
from .webhooks import UrlPolicy


class AddressRefused(httpcore.ConnectError):
    """The host resolved, at connection time, to an address the policy refuses."""


class PinnedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: UrlPolicy, inner: httpcore.AsyncNetworkBackend | None = None):
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    # The signatures are httpcore's interface, `timeout` included.
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.policy.resolve(host, port)
        try:
            check_addresses(addresses, allow_private=self.policy.allow_private)
        except RuleViolation as refused:
            raise AddressRefused(refused.code) from None
        return await self.inner.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("R_ARR_2_WEBHOOK_URL_SCHEME")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (TLS, HTTP/1.1, keep-alive, limits) over `PinnedBackend`."""

    def __init__(self, policy: UrlPolicy) -> None:
        super().__init__(trust_env=False)
        # httpx takes no network backend of its own; its pool is httpcore's, which does.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=PinnedBackend(policy),
        )
