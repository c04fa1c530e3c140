"""A real llama-server on 127.0.0.1, started and stopped by the tests — and never left behind."""

import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from slmlab import SlmlabError, serve


@pytest.fixture(scope="module")
def server(nano_quants):
    with serve.start_llama_server(nano_quants["Q8_0"], parallel=4, threads=1) as s:
        yield s
    # stopped means gone: no process left under that pid (stop() reaps it) and nothing listening on the port
    assert s.process.returncode is not None and not psutil.pid_exists(s.process.pid)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", s.port)) != 0


def test_listens_on_loopback_only(server):
    assert server.host == "127.0.0.1"
    assert server.listening_on() == [("127.0.0.1", server.port)]  # not 0.0.0.0, not ::


def test_openai_client_completes(server):
    r = server.client().completions.create(model="slm-nano", prompt="Return the number of", max_tokens=8, temperature=0)
    assert r.choices[0].text and r.usage.completion_tokens > 0


def test_streaming_yields_tokens_as_they_come(server):
    stream = server.client().completions.create(
        model="slm-nano", prompt="Return the", max_tokens=8, temperature=0, stream=True
    )
    pieces = [c.choices[0].text for c in stream if c.choices]
    assert len(pieces) >= 2 and "".join(pieces).strip()


def test_sixteen_concurrent_clients_get_answers(server):
    result = serve.load_test(server.base_url, clients=16, per_client=2, max_tokens=8)
    assert result.requests == 32 and result.errors == 0
    assert result.requests_per_s > 0 and len(result.latencies) == 32
    assert result.completion_tokens == 32 * 8  # every request generated its max_tokens


def test_bad_requests_get_4xx_and_the_server_keeps_serving(server):
    # upstream answers 500 here; scripts/patches/llama-server-json-400.patch makes it a 400
    r = httpx.post(
        f"{server.base_url}/v1/completions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and "parse" in r.text.lower()
    r = httpx.post(f"{server.base_url}/v1/completions", json={"prompt": "hi", "max_tokens": -5})
    assert r.status_code == 400 and "max_tokens" in r.text
    r = httpx.post(f"{server.base_url}/v1/chat/completions", json={"max_tokens": 5})
    assert r.status_code == 400 and "messages" in r.text
    r = httpx.post(f"{server.base_url}/v1/completions", json={"prompt": "word " * 2000, "max_tokens": 4})
    assert r.status_code == 400 and "context" in r.text
    assert httpx.get(f"{server.base_url}/health").status_code == 200


def test_a_busy_port_is_a_clear_error(nano_quants):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(SlmlabError, match="busy"):
            serve.start_llama_server(nano_quants["Q8_0"], port=s.getsockname()[1])


def test_api_key_is_required_when_set(nano_quants):
    with serve.start_llama_server(nano_quants["Q8_0"], api_key="secret-key", threads=1) as s:
        body = {"prompt": "Return", "max_tokens": 2}
        assert httpx.post(f"{s.base_url}/v1/completions", json=body).status_code == 401
        ok = httpx.post(f"{s.base_url}/v1/completions", json=body, headers={"Authorization": "Bearer secret-key"})
        assert ok.status_code == 200


def test_modelfile_points_at_the_gguf(nano_quants):
    text = serve.ollama_modelfile(nano_quants["Q8_0"], template="{{ .Prompt }}", stop=["</s>"])
    assert text.startswith(f"FROM {nano_quants['Q8_0'].resolve()}") and 'PARAMETER stop "</s>"' in text


@pytest.mark.fast
def test_percentiles_of_a_known_sample():
    r = serve.LoadResult(clients=1, requests=100, errors=0, seconds=1.0, latencies=[i / 100 for i in range(1, 101)])
    assert r.percentile(50) == pytest.approx(0.505) and r.percentile(95) == pytest.approx(0.9505)
    assert serve.LoadResult(1, 1, 0, 1.0, [0.3]).percentile(95) == 0.3  # one request: its own latency
    assert math.isnan(serve.LoadResult(1, 1, 1, 1.0, []).percentile(50))  # no successful request


def _gone(pid: int, within: float = 15) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.2)
    return False


def _llama_server_child(parent: psutil.Process, within: float = 60) -> psutil.Process:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = [c for c in parent.children(recursive=True) if c.name() == "llama-server"]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("no llama-server was started")


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_slmlab_serve_ended_by_a_signal_leaves_no_server(nano_quants, signal_name):
    # SIGTERM is what kill, systemd and supervisors send; SIGKILL cannot be caught at all
    proc = subprocess.Popen(
        [sys.executable, "-m", "slmlab.cli", "serve", str(nano_quants["Q8_0"]), "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while "serving" not in (line := proc.stderr.readline()):
            assert line, "slmlab serve ended before serving"
        server = _llama_server_child(psutil.Process(proc.pid))
        log = Path(os.readlink(f"/proc/{server.pid}/fd/1"))  # llama-server writes to its log file
        assert log.name == "server.log"
        proc.send_signal(getattr(signal, signal_name))
        proc.wait(30)
        assert _gone(server.pid), f"llama-server {server.pid} outlived slmlab serve ({signal_name})"
        if signal_name == "SIGTERM":  # a clean exit also removes the log's folder from /tmp
            assert not log.parent.exists()
    finally:
        proc.kill()


def test_a_kernel_killed_while_its_server_runs_leaves_no_server(nano_quants):
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    printed: list[str] = []
    try:
        code = (
            "import os\nfrom slmlab import serve\n"
            f"server = serve.start_llama_server({str(nano_quants['Q8_0'])!r}, threads=1)\n"
            "print('PID', server.process.pid, os.getpid())"
        )
        reply = kc.execute_interactive(
            code, timeout=120, output_hook=lambda msg: printed.append(msg["content"].get("text", ""))
        )
        assert reply["content"]["status"] == "ok"
        pid, kernel = map(
            int, next(line.split()[1:] for text in printed for line in text.splitlines() if line.startswith("PID"))
        )
        assert psutil.Process(pid).name() == "llama-server"
        os.kill(kernel, signal.SIGKILL)  # no atexit, no finally in the kernel — as when it dies or is killed
        assert _gone(pid), f"llama-server {pid} outlived its kernel"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _serving(args: list[str], within: float = 400) -> subprocess.Popen:
    """`slmlab serve ARGS` started as a teacher would, once it says it is serving."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "slmlab.cli", "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + within
    lines = []
    while "serving" not in (line := proc.stderr.readline()):
        lines.append(line)
        assert line and time.monotonic() < deadline, "slmlab serve ended before serving:\n" + "".join(lines[-20:])
    return proc


def test_slmlab_serve_with_vllm_takes_sixteen_clients_rejects_bad_requests_and_leaves_nothing_behind():
    port = serve.free_port()
    proc = _serving(["slm-nano", "--engine", "vllm", "--port", str(port), "--parallel", "16", "--threads", "1"])
    url = f"http://127.0.0.1:{port}"
    try:
        vllm = [p for p in psutil.Process(proc.pid).children(recursive=True)]
        listening = {
            (c.laddr.ip, c.laddr.port)
            for p in vllm
            for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        assert listening == {("127.0.0.1", port)}  # loopback only
        result = serve.load_test(url, clients=16, per_client=2, max_tokens=8)
        assert result.requests == 32 and result.errors == 0 and result.completion_tokens == 32 * 8
        r = httpx.post(f"{url}/v1/completions", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        r = httpx.post(f"{url}/v1/completions", json={"model": "slm-nano", "prompt": "hi", "max_tokens": -5})
        assert r.status_code == 400 and "max_tokens" in r.text
        r = httpx.post(f"{url}/v1/completions", json={"model": "slm-nano", "prompt": "Return the", "max_tokens": 4})
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 4  # still serving
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        assert all(_gone(p.pid) for p in vllm), "a vLLM process outlived slmlab serve"
    finally:
        proc.kill()


def test_slmlab_serve_chats_with_the_instruction_tuned_model():
    port = serve.free_port()
    proc = _serving(["smollm2-135m-instruct", "--port", str(port), "--threads", "1"])
    try:
        question = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]
        r = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"messages": question, "max_tokens": 32, "temperature": 0},
            timeout=120,
        )
        assert r.status_code == 200 and "Paris" in r.json()["choices"][0]["message"]["content"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
