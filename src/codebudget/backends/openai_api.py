"""Any OpenAI-compatible server (vLLM, llama.cpp, SGLang, TGI, Ollama, hosted APIs) as a backend.

Requests go out concurrently through the official `openai` package (`AsyncOpenAI`) on an
asyncio loop in a background thread; `generate` yields each `Generation` as it finishes,
so the order may differ from the request order (callers key on task_id and sample).

A fleet: `base_url` may list several comma-separated servers. Each request goes to the
least-loaded server that is not cooling down after a failure (ties: round-robin), with at
most `concurrency` requests in flight per server.

Retries: connection errors, timeouts, 408/409/429 and 5xx are retried (`max_retries` times
per request, possibly on another server) with exponential backoff and jitter (a 429's
Retry-After is honoured); the failing server cools down meanwhile. Other 4xx answers are
the user's to fix and become a UserError carrying the server's message. Before the first
request, each server's `/models` list is read: a server that lists models but not ours is
a UserError (llama.cpp's server, for one, silently serves its own model whatever name it
is sent); `check_model=False` turns this off.

Cost fields, from a streamed response (`stream=True`, usage requested with
`stream_options={"include_usage": True}`):
- `ttft_s`: seconds from sending the request to the first chunk carrying text.
- `token_times`: cumulative seconds at each text chunk. A chunk may hold more than one
  token; `extra["token_times_unit"]` is "token" only when the server's completion_tokens
  equals the number of chunks (a trailing empty chunk that carries only the finish reason
  counts as the last token when that makes the numbers agree, as with vLLM's EOS), else
  "chunk".
- `prompt_tokens` / `completion_tokens`: the server's usage, never estimated: None when the
  server sends no usage (llama-cpp-python's server sends none while streaming; pass
  `stream=False` there to get exact counts without per-token times).
- `seconds`: wall time of the successful attempt, request sent to last chunk;
  `extra["attempts"]` and `extra["server"]` say how many tries it took and who answered.
- `token_ids`: None (servers do not return ids).

Stop strings: the OpenAI API takes at most 4; the first `server_stop_limit` (default 4;
None = all) go to the server, the rest are applied here: the text is cut before the
first one, finish_reason becomes "stop", `token_times` and `seconds` end at the chunk that
completed it, and the stream is read to its end only to get the usage. completion_tokens
is then the number of chunks up to the stop when chunks are tokens, else None (the
server's count for the whole stream is in `extra["server_completion_tokens"]`).

Chat prompts go to /chat/completions and the server applies its chat template. A prefill
(text the assistant turn starts with) is sent as a final, partial assistant message, which
servers that continue the last assistant message (llama.cpp's llama-server) continue;
with `prefill_style="vllm"` the request also asks vLLM/SGLang to continue it
(`continue_final_message=True, add_generation_prompt=False`). Other servers may open a
new turn instead. Raw prompts go to /completions, with the prefill appended. Decoding:
`top_k` is not an OpenAI parameter: it is sent as an extra field only when set (> 0), so
the server's default applies otherwise; `extra_body` is sent with every request (e.g.
`{"repeat_penalty": 1.0}` for llama-cpp-python, whose defaults differ from OpenAI's).
Each sample gets its own seed (seed * 1_000_003 + sample), as in the llama.cpp backend.
"""

from __future__ import annotations

import asyncio
import os
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

from codebudget.backends.base import Decoding, Generation, Request
from codebudget.errors import UserError

OPENAI_URL = "https://api.openai.com/v1"
SEED_STRIDE = 1_000_003
_RETRY_STATUS = frozenset({408, 409, 429})
_DONE = object()


def split_urls(base_url: str | None) -> list[str]:
    """Comma-separated server URLs, each ending in its API root (`/v1` added to a bare host)."""
    text = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
    urls = []
    for part in (p.strip().rstrip("/") for p in text.split(",")):
        if not part:
            continue
        parsed = urlsplit(part)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UserError(f"not a server URL: {part!r}", "write it like http://127.0.0.1:8000/v1")
        urls.append(part if parsed.path not in ("", "/") else part + "/v1")
    if not urls:
        raise UserError("no server URL given", "pass base_url, e.g. http://127.0.0.1:8000/v1")
    return urls


def backoff_seconds(failures: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: between half and all of min(cap, base * 2**(failures-1))."""
    ceiling = min(cap, base * 2.0 ** max(0, failures - 1))
    return ceiling * random.uniform(0.5, 1.0)


@dataclass(eq=False)
class Server:
    """One server of the fleet: its client, its load and its health."""

    url: str
    client: Any
    slots: asyncio.Semaphore
    in_flight: int = 0
    failures: int = 0  # consecutive
    cool_until: float = 0.0


@dataclass
class Fleet:
    servers: list[Server]
    backoff_s: float
    max_backoff_s: float
    turn: int = 0

    def pick(self) -> Server:
        """The least-loaded healthy server (ties: round-robin); if all cool down, the first back."""
        now = time.monotonic()
        healthy = [s for s in self.servers if s.cool_until <= now] or \
            [min(self.servers, key=lambda s: s.cool_until)]
        self.turn += 1
        order = {id(s): (i - self.turn) % len(self.servers) for i, s in enumerate(self.servers)}
        return min(healthy, key=lambda s: (s.in_flight, order[id(s)]))

    def failed(self, server: Server, retry_after: float | None) -> None:
        now = time.monotonic()
        if server.cool_until <= now:  # one outage, seen by many requests at once, counts once
            server.failures += 1
            wait = backoff_seconds(server.failures, self.backoff_s, self.max_backoff_s)
            server.cool_until = now + max(wait, retry_after or 0.0)

    @staticmethod
    def succeeded(server: Server) -> None:
        server.failures, server.cool_until = 0, 0.0


@dataclass
class StreamState:
    """What one streamed response said, turned into a Generation (pure: testable with fakes)."""

    start: float
    client_stops: tuple[str, ...] = ()
    times: list[float] = field(default_factory=list)
    finish_reason: str | None = None
    finish_time: float | None = None  # a trailing chunk with a finish reason and no text
    end_time: float | None = None
    usage: Any = None
    model: str | None = None
    text: str = ""
    cut: int | None = None  # client-side stop: text length kept
    cut_chunks: int | None = None

    def add(self, chunk: Any, now: float) -> None:
        at = now - self.start
        self.end_time = at
        self.model = getattr(chunk, "model", None) or self.model
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
        for choice in getattr(chunk, "choices", None) or ():
            text = _choice_text(choice)
            if text:
                self._add_text(text, at)
                self.finish_time = None
            reason = getattr(choice, "finish_reason", None)
            if reason:
                self.finish_reason = reason
                if not text:
                    self.finish_time = at

    def _add_text(self, text: str, at: float) -> None:
        before = len(self.text)
        self.text += text
        self.times.append(at)
        if self.cut is None:  # a stop may straddle chunks: search from where it could start
            found = [i for i in (self.text.find(s, max(0, before - len(s) + 1)) for s in self.client_stops if s)
                     if i >= 0]
            if found:
                self.cut, self.cut_chunks = min(found), len(self.times)

    def generation(self, request: Request) -> Generation:
        if self.finish_reason is None:
            raise IncompleteResponse(f"the response ended without a finish reason after {len(self.times)} "
                                     "chunks")
        server_count = getattr(self.usage, "completion_tokens", None)
        times = list(self.times)
        per_token = server_count is not None and server_count == len(times)
        if server_count is not None and server_count == len(times) + 1 and self.finish_time is not None:
            times.append(self.finish_time)
            per_token = True
        text, completion, finish, seconds = self.text, server_count, self.finish_reason, self.end_time
        extra: dict[str, Any] = {"token_times_unit": "token" if per_token else "chunk",
                                 "chunks": len(self.times), "server_model": self.model}
        if self.cut is not None and self.cut_chunks is not None:
            text, finish = text[:self.cut], "stop"
            times = times[:self.cut_chunks]
            seconds = times[-1]
            completion = self.cut_chunks if per_token else None
            extra.update(client_stop=True, server_completion_tokens=server_count)
        return Generation(
            task_id=request.task_id, sample=request.sample, text=text,
            prompt_tokens=getattr(self.usage, "prompt_tokens", None), completion_tokens=completion,
            token_times=tuple(times), ttft_s=times[0] if times else None, seconds=seconds,
            finish_reason=finish, extra=extra)


class IncompleteResponse(Exception):
    """A response that ended without a finish reason (cut off, or interrupted by the server)."""


def _choice_text(choice: Any) -> str:
    delta = getattr(choice, "delta", None)
    if delta is not None:
        return getattr(delta, "content", None) or ""
    message = getattr(choice, "message", None)
    if message is not None:
        return getattr(message, "content", None) or ""
    return getattr(choice, "text", None) or ""


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Errors raised while reading a stream (not wrapped by openai): worth a retry."""
    errors: list[type[BaseException]] = [ConnectionError, asyncio.TimeoutError]
    for module in ("httpx", "httpx2", "httpcore"):
        try:
            imported = __import__(module)
        except ImportError:
            continue
        for name in ("TransportError", "NetworkError", "RemoteProtocolError"):
            cls = getattr(imported, name, None)
            if isinstance(cls, type) and issubclass(cls, BaseException):
                errors.append(cls)
    return tuple(errors)


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 8, max_retries: int = 5, timeout: float = 600.0, *,
                 stream: bool = True, prefill_style: str = "message", server_stop_limit: int | None = 4,
                 extra_body: dict[str, Any] | None = None, check_model: bool = True,
                 backoff_s: float = 0.5, max_backoff_s: float = 30.0) -> None:
        import openai

        self._openai = openai
        if concurrency < 1 or max_retries < 0:
            raise UserError("concurrency must be at least 1 and max_retries at least 0")
        if prefill_style not in ("message", "vllm"):
            raise UserError(f"unknown prefill_style {prefill_style!r}", "use 'message' or 'vllm'")
        self.model = model
        self.urls = split_urls(base_url)
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.concurrency, self.max_retries, self.timeout = concurrency, max_retries, timeout
        self.stream, self.prefill_style = stream, prefill_style
        self.server_stop_limit = server_stop_limit
        self.extra_body = dict(extra_body or {})
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self._retryable: tuple[type[BaseException], ...] = (
            openai.APIConnectionError, openai.APIError, IncompleteResponse, *_transport_errors())
        self.server_models = {url: self._list_models(url) for url in self.urls}
        if check_model:
            self._check_model()

    @property
    def has_chat_template(self) -> bool:
        return True  # chat servers apply their own template

    def describe(self) -> dict[str, Any]:
        return {
            "engine": "OpenAI-compatible server",
            "client": "openai",
            "version": getattr(self._openai, "__version__", "?"),
            "model": self.model,
            "base_urls": list(self.urls),
            "server_models": self.server_models,
            "concurrency_per_server": self.concurrency,
            "max_retries": self.max_retries,
            "timeout": self.timeout,
            "stream": self.stream,
            "prefill_style": self.prefill_style,
            "server_stop_limit": self.server_stop_limit,
            "extra_body": dict(self.extra_body),
        }

    def _list_models(self, url: str) -> list[str] | str:
        """The server's model ids, or why they could not be read."""
        try:
            with self._openai.OpenAI(base_url=url, api_key=self.api_key, timeout=min(self.timeout, 10.0),
                                     max_retries=0) as client:
                return [m.id for m in client.models.list()]
        except Exception as exc:  # a server without /models, or one that is down
            return f"unavailable: {type(exc).__name__}: {exc}"

    def _check_model(self) -> None:
        for url, models in self.server_models.items():
            if not isinstance(models, list) or not models:
                continue  # nothing listed: nothing to check against
            names = set(models) | {m.removesuffix(":latest") for m in models}  # Ollama's implicit tag
            if self.model not in names:
                raise UserError(f"the server at {url} does not serve model {self.model!r}; it serves: "
                                f"{', '.join(models)}", "pass one of those names as the model "
                                "(or check_model=False if the server accepts other names)")

    # --- generation -----------------------------------------------------------------------

    def generate(self, requests: Iterable[Request], decoding: Decoding) -> Iterator[Generation]:
        todo = list(requests)
        for request in todo:
            if request.prompt is None and request.messages is None:
                raise UserError(f"{request.task_id}: a request needs a prompt or chat messages")
        if not todo:
            return
        results: queue.Queue[Any] = queue.Queue()
        handle: dict[str, Any] = {}
        started = threading.Event()

        async def main() -> None:
            handle["loop"], handle["task"] = asyncio.get_running_loop(), asyncio.current_task()
            started.set()
            try:
                await self._run(todo, decoding, results.put)
                results.put(_DONE)
            except BaseException as exc:  # handed to the caller's thread, cancellation included
                results.put(exc)

        thread = threading.Thread(target=asyncio.run, args=(main(),), name="codebudget-openai", daemon=True)
        thread.start()
        try:
            while (item := results.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if thread.is_alive() and started.wait(5):
                try:
                    handle["loop"].call_soon_threadsafe(handle["task"].cancel)
                except RuntimeError:  # the loop closed meanwhile
                    pass
            thread.join()

    async def _run(self, todo: list[Request], decoding: Decoding, emit: Any) -> None:
        servers = [Server(url, self._openai.AsyncOpenAI(base_url=url, api_key=self.api_key, timeout=self.timeout,
                                                         max_retries=0), asyncio.Semaphore(self.concurrency))
                   for url in self.urls]
        fleet = Fleet(servers, self.backoff_s, self.max_backoff_s)
        pending = list(reversed(todo))

        async def worker() -> None:
            while pending:
                emit(await self._with_retries(fleet, pending.pop(), decoding))

        tasks = [asyncio.create_task(worker()) for _ in range(min(len(todo), self.concurrency * len(servers)))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for server in servers:
                await server.client.close()

    async def _with_retries(self, fleet: Fleet, request: Request, decoding: Decoding) -> Generation:
        errors: list[str] = []
        for attempt in range(1, self.max_retries + 2):
            server = fleet.pick()
            delay = server.cool_until - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            server.in_flight += 1  # queued requests count as load too
            async with server.slots:
                try:
                    generation = await self._one(server, request, decoding)
                except self._openai.APIStatusError as exc:
                    if exc.status_code not in _RETRY_STATUS and exc.status_code < 500:
                        raise self._refused(server.url, request, exc) from None
                    fleet.failed(server, _retry_after(exc))
                    errors.append(f"{server.url}: HTTP {exc.status_code} {_message(exc)}")
                    continue
                except self._retryable as exc:
                    fleet.failed(server, None)
                    errors.append(f"{server.url}: {type(exc).__name__}: {exc}")
                    continue
                finally:
                    server.in_flight -= 1
            fleet.succeeded(server)
            generation.extra.update(server=server.url, attempts=attempt)
            return generation
        hint = f"check that the server(s) are up and reachable: {', '.join(self.urls)}"
        if "IncompleteResponse" in errors[-1]:
            hint += ("; some servers end a stream early instead of refusing a request (llama-cpp-python does "
                     "for a prompt over its context): stream=False shows the server's error")
        raise UserError(f"{request.task_id} (sample {request.sample}): no answer after {len(errors)} tries; "
                        f"last: {errors[-1]}", hint)

    def _refused(self, url: str, request: Request, exc: Any) -> UserError:
        hints = {401: "check the API key (api_key or OPENAI_API_KEY)",
                 403: "check the API key's permissions",
                 404: f"check the model name ({self.model!r}) and the base URL (it should end in /v1)"}
        return UserError(f"the server at {url} refused {request.task_id} (sample {request.sample}): "
                         f"HTTP {exc.status_code}: {_message(exc)}",
                         hints.get(exc.status_code, "check the decoding settings and the prompt's length"))

    async def _one(self, server: Server, request: Request, decoding: Decoding) -> Generation:
        chat = request.messages is not None
        endpoint = server.client.chat.completions if chat else server.client.completions
        server_stops = list(decoding.stop[:self.server_stop_limit] if self.server_stop_limit is not None
                            else decoding.stop)
        client_stops = tuple(decoding.stop[len(server_stops):])
        params = self._params(request, decoding, server_stops)
        state = StreamState(start=time.perf_counter(), client_stops=client_stops)
        if not self.stream:
            response = await endpoint.create(**params)
            state.add(response, time.perf_counter())
            generation = state.generation(request)
            return _without_times(generation)
        stream = await endpoint.create(**params, stream=True, stream_options={"include_usage": True})
        try:
            async for chunk in stream:
                state.add(chunk, time.perf_counter())
        finally:
            await stream.close()
        return state.generation(request)

    def _params(self, request: Request, decoding: Decoding, stops: list[str]) -> dict[str, Any]:
        body = dict(self.extra_body)
        if decoding.top_k > 0:
            body["top_k"] = decoding.top_k
        params: dict[str, Any] = {
            "model": self.model, "max_tokens": decoding.max_new_tokens, "temperature": decoding.temperature,
            "top_p": decoding.top_p, "seed": decoding.seed * SEED_STRIDE + request.sample,
        }
        if stops:
            params["stop"] = stops
        if request.messages is not None:
            messages = [dict(m) for m in request.messages]
            if request.prefill:
                messages.append({"role": "assistant", "content": request.prefill})
                if self.prefill_style == "vllm":
                    body.update(continue_final_message=True, add_generation_prompt=False)
            params["messages"] = messages
        else:
            params["prompt"] = (request.prompt or "") + request.prefill
        if body:
            params["extra_body"] = body
        return params

    def close(self) -> None:
        pass  # clients live only inside each generate call


def _without_times(generation: Generation) -> Generation:
    """A non-streamed answer: exact usage, but no per-token times or time to first token."""
    from dataclasses import replace

    extra = {**generation.extra, "token_times_unit": None}
    return replace(generation, token_times=None, ttft_s=None, extra=extra)


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
        if body.get("detail"):
            return str(body["detail"])
    return str(getattr(exc, "message", None) or exc)


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(float(value), 300.0) if value is not None else None
    except ValueError:
        return None
