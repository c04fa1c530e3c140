"""A real llama-server on 127.0.0.1, started and stopped by the tests."""

import os
import socket

import httpx
import pytest

from slmlab import SlmlabError, serve


@pytest.fixture(scope="module")
def server(nano_quants):
    with serve.start_llama_server(nano_quants["Q8_0"], parallel=4, threads=1) as s:
        yield s
    assert not os.path.exists(f"/proc/{s.process.pid}") or s.process.poll() is not None


def test_listens_on_loopback_only(server):
    assert server.host == "127.0.0.1"
    assert server.listening_on() == [("127.0.0.1", server.port)]  # not 0.0.0.0, not ::


def test_openai_client_completes(server):
    r = server.client().completions.create(model="slm-nano", prompt="Return the number of", max_tokens=8, temperature=0)
    assert r.choices[0].text and r.usage.completion_tokens > 0


def test_streaming_yields_tokens_as_they_come(server):
    stream = server.client().completions.create(model="slm-nano", prompt="Return the", max_tokens=8, temperature=0, stream=True)
    pieces = [c.choices[0].text for c in stream if c.choices]
    assert len(pieces) >= 2 and "".join(pieces).strip()


def test_sixteen_concurrent_clients_get_answers(server):
    result = serve.load_test(server.base_url, clients=16, per_client=2, max_tokens=8)
    assert result.requests == 32 and result.errors == 0
    assert result.requests_per_s > 0 and result.percentile(95) >= result.percentile(50)
    assert result.completion_tokens == 32 * 8  # every request generated its max_tokens


def test_bad_requests_get_4xx_and_the_server_keeps_serving(server):
    # upstream answers 500 here; scripts/patches/llama-server-json-400.patch makes it a 400
    r = httpx.post(f"{server.base_url}/v1/completions", content=b"{not json", headers={"Content-Type": "application/json"})
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
