"""The http executor: one request to a service on an inventory host, with httpx.

- TLS certificates are verified (the system CA store); there is no switch to turn that off.
- Redirects are followed by hand, one hop at a time, and only to inventory hosts that the policy
  would also allow: an open redirect on a fleet service must not walk the agent to a metadata
  endpoint or an outside host. A refused hop is the call's result (status "denied").
- The environment is ignored (`trust_env=False`): no proxy variables, no ~/.netrc credentials
  silently attached to requests the model wrote.
- The body is read up to `http_max_body_bytes`, then the connection is dropped; the output cap
  applies on top of that.
- A URL may name a host by inventory name (`http://web1:8080/health`); the request goes to that
  host's address. For HTTPS, give hosts their certificate's DNS name as address.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from agent.executors.config import ExecutorSettings
from agent.executors.output import Streams
from agent.executors.result import Outcome, Status
from halops.calls import HttpArgs
from safety.inventory import Inventory

# hop_check(method, url) -> None when the hop may be followed, else why not.
HopCheck = Callable[[str, str], str | None]
_CHUNK = 65536


def resolve(url: str, inventory: Inventory) -> tuple[httpx.URL, str | None]:
    """The URL to request (inventory names replaced by addresses) and the inventory host it hits."""
    parsed = httpx.URL(url)
    host = parsed.host
    entry = inventory.get(host)
    if entry is not None:
        return parsed.copy_with(host=entry.address), host
    found = inventory.find_by_address(host) if host else None
    return parsed, (found[0] if found else None)


class HttpExecutor:
    def __init__(self, settings: ExecutorSettings):
        self.settings = settings

    def _new_client(self) -> httpx.Client:
        # A client per call: no cookie jar or connection carries state from one call (one
        # conversation) to the next.
        return httpx.Client(
            verify=True,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self.settings.http_timeout_s),
            headers={"User-Agent": "halops"},
        )

    def close(self) -> None:
        pass

    def run(
        self,
        args: HttpArgs,
        inventory: Inventory,
        streams: Streams,
        hop_check: HopCheck,
        timeout: float | None = None,
    ) -> Outcome:
        timeout = timeout or self.settings.http_timeout_s
        deadline = time.monotonic() + timeout
        try:
            url, _ = resolve(args.url, inventory)
        except (httpx.InvalidURL, ValueError) as exc:
            return streams.outcome(Status.ERROR, note=f"invalid URL {args.url!r}: {exc}")
        with self._new_client() as client:
            content, body_json = None, None
            headers = dict(args.headers or {})
            original = httpx.URL(args.url)
            if url.host != original.host and not any(k.lower() == "host" for k in headers):
                # Connect to the inventory address but name the host as the URL did (like curl
                # --resolve), so name-based virtual hosts still answer.
                headers["Host"] = original.netloc.decode("ascii")
            if isinstance(args.body, dict):
                body_json = args.body
            elif args.body is not None:
                content = args.body.encode("utf-8")
            try:
                request = client.build_request(
                    args.method, url, headers=headers, content=content, json=body_json
                )
            except (httpx.InvalidURL, ValueError, TypeError) as exc:
                return streams.outcome(Status.ERROR, note=f"cannot build the request: {exc}")
            try:
                return self._exchange(client, request, inventory, streams, hop_check, deadline, timeout)
            except httpx.TimeoutException as exc:
                return streams.outcome(
                    Status.TIMEOUT, note=f"{request.method} {request.url}: timed out ({type(exc).__name__})"
                )
            except httpx.ConnectError as exc:
                return streams.outcome(
                    Status.ERROR, note=f"{request.method} {request.url}: cannot connect: {_reason(exc)}"
                )
            except httpx.HTTPError as exc:
                return streams.outcome(
                    Status.ERROR, note=f"{request.method} {request.url}: {type(exc).__name__}: {_reason(exc)}"
                )

    def _exchange(
        self,
        client: httpx.Client,
        request: httpx.Request,
        inventory: Inventory,
        streams: Streams,
        hop_check: HopCheck,
        deadline: float,
        timeout: float,
    ) -> Outcome:
        """Send, and follow redirects that pass both checks, one hop at a time."""
        for hop in range(self.settings.http_max_redirects + 1):
            response = client.send(request, stream=True)
            try:
                nxt = response.next_request if response.is_redirect else None
                if nxt is None:
                    return self._finish(response, request.method, streams, deadline, timeout)
                target = str(nxt.url)
                if hop >= self.settings.http_max_redirects:
                    why = f"more than {self.settings.http_max_redirects} redirects"
                else:
                    why = _inventory_hop(target, inventory) or hop_check(nxt.method, target)
                if why:
                    _head(response, streams)
                    return streams.outcome(
                        Status.DENIED, response.status_code, note=f"redirect to {target} not followed: {why}"
                    )
            finally:
                response.close()
            if time.monotonic() >= deadline:
                return streams.outcome(
                    Status.TIMEOUT, note=f"timed out after {timeout:g} s following redirects"
                )
            # httpx built the hop (method rewrite on 301/302/303, body kept only for 307/308,
            # credentials dropped across origins); only an inventory name becomes its address.
            nxt.url, _ = resolve(target, inventory)
            request = nxt
        raise AssertionError("unreachable")  # the last iteration always returns

    def _finish(
        self, response: httpx.Response, method: str, streams: Streams, deadline: float, timeout: float
    ) -> Outcome:
        _head(response, streams)
        cap = self.settings.http_max_body_bytes
        read = 0
        note = None
        if method != "HEAD":
            # Decoded bytes (gzip undone) count against the cap, so a compression bomb stops too.
            for chunk in response.iter_bytes(_CHUNK):
                if read + len(chunk) > cap:
                    streams.stdout.write(chunk[: cap - read])
                    note = f"response body cut at {cap} bytes (executors.http_max_body_bytes); rest not read"
                    break
                streams.stdout.write(chunk)
                read += len(chunk)
                if time.monotonic() > deadline:
                    return streams.outcome(
                        Status.TIMEOUT, response.status_code, note=f"body still arriving after {timeout:g} s"
                    )
        status = Status.OK if response.status_code < 400 else Status.ERROR
        outcome = streams.outcome(status, response.status_code, note=note)
        if note:
            outcome.result.truncated = True
        return outcome


def _head(response: httpx.Response, streams: Streams) -> None:
    """Status line and headers first, like `curl -i`: the model needs the status and content type."""
    lines = [f"{response.http_version} {response.status_code} {response.reason_phrase}"]
    lines += [f"{k}: {v}" for k, v in response.headers.items()]
    streams.stdout.write_text("\n".join(lines) + "\n\n")


def _inventory_hop(url: str, inventory: Inventory) -> str | None:
    """Our own floor under the policy: a redirect may only lead to an inventory host."""
    try:
        _, name = resolve(url, inventory)
    except (httpx.InvalidURL, ValueError):
        return "not a valid URL"
    if httpx.URL(url).scheme not in ("http", "https"):
        return "not an http(s) URL"
    return None if name else "the target is not an inventory host"


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return f"TLS certificate verification failed ({text})"
    return text
