"""aria2's JSON-RPC interface: one call at a time, with the ``token:`` secret, errors mapped."""

from __future__ import annotations

import itertools
from typing import Any

import requests

from hauler.downloads.clients.base import ClientUnavailable
from hauler.errors import CredentialsRefused
from hauler.redact import redact_url

SECRET_SETTING = "HAULER_DOWNLOADS_ARIA2_SECRET"


class WrongSecret(CredentialsRefused):
    """Raised when aria2 refuses the RPC secret (HAULER_DOWNLOADS_ARIA2_SECRET)."""


class Aria2RpcError(Exception):
    """Raised when aria2 answers a call with a JSON-RPC error (an unknown GID, a bad option…)."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"aria2 {method}: {message} (code {code})")
        self.code = code
        self.message = message


class Aria2Rpc:
    """Calls aria2 methods over JSON-RPC on HTTP, prefixing every call with the secret."""

    def __init__(self, url: str, secret: str, timeout: float = 10.0) -> None:
        self.url = url
        self.shown = redact_url(url)  # the endpoint as messages show it
        self.secret = secret
        self.timeout = timeout
        self.session = requests.Session()
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        """The result of ``aria2.<method>(token:SECRET, *params)``.

        Raises:
            ClientUnavailable: aria2 cannot be reached or answers with a server error.
            WrongSecret: aria2 refuses the secret.
            Aria2RpcError: any other JSON-RPC error.
        """
        payload = {
            "jsonrpc": "2.0",
            "id": f"hauler-{next(self._ids)}",
            "method": f"aria2.{method}",
            "params": [f"token:{self.secret}", *params],
        }
        answer = self._post(payload)
        error = answer.get("error") if isinstance(answer, dict) else None
        if error:
            self._raise(method, error)
        return answer.get("result")

    def multicall(self, *calls: tuple[Any, ...]) -> list[Any]:
        """The results of several ``(method, *params)`` calls sent as one ``system.multicall``
        (one HTTP request).

        Raises:
            as ``call``; a failed member raises its own Aria2RpcError.
        """
        members = [
            {"methodName": f"aria2.{method}", "params": [f"token:{self.secret}", *params]}
            for method, *params in calls
        ]
        payload = {
            "jsonrpc": "2.0",
            "id": f"hauler-{next(self._ids)}",
            "method": "system.multicall",
            "params": [members],
        }
        answer = self._post(payload)
        error = answer.get("error") if isinstance(answer, dict) else None
        if error:
            self._raise("system.multicall", error)
        results = []
        for (method, *_), result in zip(calls, answer.get("result") or [], strict=True):
            if isinstance(result, dict):  # a fault struct: {"code": …, "message": …}
                self._raise(method, result)
            results.append(result[0])
        return results

    def _post(self, payload: dict[str, Any]) -> Any:
        try:
            response = self.session.post(self.url, json=payload, timeout=self.timeout)
            return response.json()
        except requests.exceptions.RequestException as exc:
            raise ClientUnavailable(
                f"aria2 at {self.shown} does not answer ({exc.__class__.__name__})"
            ) from None
        except ValueError:
            raise ClientUnavailable(
                f"aria2 at {self.shown} answered HTTP {response.status_code} without JSON"
            ) from None

    def _raise(self, method: str, error: dict[str, Any]) -> None:
        message = str(error.get("message", ""))
        if message == "Unauthorized":
            raise WrongSecret(
                f"aria2 at {self.shown} refused the RPC secret: set {SECRET_SETTING} "
                "to the value of its --rpc-secret"
            )
        raise Aria2RpcError(method, int(error.get("code", 0)), message)

    def status(self, gid: str) -> dict[str, Any] | None:
        """``tellStatus(gid)``, or None when aria2 knows no such GID."""
        try:
            result: dict[str, Any] = self.call("tellStatus", gid)
        except Aria2RpcError as exc:
            if "not found" in exc.message:
                return None
            raise
        return result
