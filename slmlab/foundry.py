"""Foundry Local on Linux, in process: register an Olive ModelBuilder folder ("bring your own model"),
load it, chat with it, and try its OpenAI-compatible web service.

`foundry-local-sdk` ships a native runtime for Linux x86-64 that runs inside the Python process — no
Windows/macOS service needed. Its local catalog registers an ONNX Runtime GenAI folder (what Olive's
`ModelBuilder` pass writes: `genai_config.json`, `model.onnx`, the tokenizer) without copying it.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from slmlab import paths, serve
from slmlab.errors import SlmlabError

# slm-nano has no chat template: this one passes the user's text straight through, after BOS.
PASSTHROUGH_TEMPLATE = "<s>{% for message in messages %}{{ message['content'] }}{% endfor %}"

_manager = None


def manager(cache_dir: str | Path | None = None):
    """The process's FoundryLocalManager (the SDK allows one), with its own model cache directory."""
    global _manager
    # onnxruntime-genai's Python package and Foundry Local's core (onnxruntime-genai-core) each ship a
    # libonnxruntime-genai.so, and whichever loads first serves the whole process. Foundry's lacks symbols the
    # package needs ("undefined symbol: OgaRequestGetUnseenToken" when Foundry came first); the package's serves
    # Foundry as well. So the package loads first.
    import onnxruntime_genai  # noqa: F401
    from foundry_local_sdk import Configuration, FoundryLocalManager

    if _manager is None:
        cache = Path(cache_dir or tempfile.mkdtemp(prefix="slmlab-foundry-"))
        FoundryLocalManager.initialize(
            Configuration(app_name="slmlab", model_cache_dir=str(cache), disable_nonessential_telemetry=True)
        )
        _manager = FoundryLocalManager.instance
    return _manager


def own_chat_template(folder: str | Path) -> str | None:
    """The chat template a model folder ships (tokenizer_config.json or chat_template.jinja), if any."""
    folder = Path(folder)
    if (folder / "chat_template.jinja").is_file():
        return (folder / "chat_template.jinja").read_text()
    config = folder / "tokenizer_config.json"
    return json.loads(config.read_text()).get("chat_template") if config.is_file() else None


def add_chat_template(folder: str | Path, template: str | None = None) -> str:
    """Make sure the folder's tokenizer_config.json has a chat template (Foundry Local refuses chat without one);
    say which one it has. A model's own template is kept (Qwen3's, say); a base model without one gets Gemma's
    turn format if it is a Gemma (its genai_config.json says so), else a template that passes the text through.
    An explicit `template` replaces whatever is there."""
    folder = Path(folder)
    if template is None and (own := own_chat_template(folder)):
        config = folder / "tokenizer_config.json"
        data = json.loads(config.read_text()) if config.is_file() else {}
        if data.get("chat_template") != own:  # a chat_template.jinja: Foundry reads tokenizer_config.json
            data["chat_template"] = own
            with paths.atomic_output(config) as tmp:
                tmp.write_text(json.dumps(data, indent=2))
        named = {
            PASSTHROUGH_TEMPLATE: "pass-through (a base model has none)",
            serve.GEMMA_CHAT_TEMPLATE: "Gemma's turn format",
        }
        return named.get(own, "the model's own")  # (this function may have put one of ours there before)
    if template is None:
        model_type = json.loads((folder / "genai_config.json").read_text())["model"]["type"]
        template, which = (
            (serve.GEMMA_CHAT_TEMPLATE, "Gemma's turn format")
            if "gemma" in model_type
            else (PASSTHROUGH_TEMPLATE, "pass-through (a base model has none)")
        )
    else:
        which = "the one given"
    config = folder / "tokenizer_config.json"
    data = json.loads(config.read_text()) if config.is_file() else {}
    data["chat_template"] = template
    with paths.atomic_output(config) as tmp:
        tmp.write_text(json.dumps(data, indent=2))
    return which


@dataclass
class Chat:
    text: str
    seconds: float


class LocalModel:
    """A registered, loaded local model; `close()` (or leaving the `with` block) unloads and unregisters it."""

    def __init__(self, folder: str | Path, model_id: str, display_name: str | None = None):
        from foundry_local_sdk import CatalogType, FoundryLocalException, ModelInfoBuilder

        folder = Path(folder)
        if not (folder / "genai_config.json").is_file():
            raise SlmlabError(
                f"{folder} has no genai_config.json: Foundry Local loads ONNX Runtime GenAI folders, "
                "such as the output of Olive's ModelBuilder pass (slmlab olive MODEL --precision int4)"
            )
        self.catalog = manager().get_catalog(CatalogType.LOCAL)
        start = time.perf_counter()
        try:
            with ModelInfoBuilder() as meta:
                meta.set_string_property("task", "chat-completion")
                meta.set_string_property("display_name", display_name or model_id)
                self.model = self.catalog.register_model(model_path=str(folder), model_id=model_id, metadata=meta)
        except FoundryLocalException as e:
            if "already registered" in str(e):
                raise SlmlabError(
                    f"{model_id} is already registered in this Foundry Local cache: "
                    "unregister it or pick another id (ids are NAME:VERSION)"
                ) from None
            raise SlmlabError(f"Foundry Local refused the registration: {str(e).splitlines()[0][-200:]}") from None
        self.register_seconds = time.perf_counter() - start
        start = time.perf_counter()
        self.model.load()
        self.load_seconds = time.perf_counter() - start
        self.id = model_id

    def _request(self, prompt: str):
        from foundry_local_sdk import MessageItem, Request

        return Request().add_item(MessageItem.user(prompt))

    def _session(self, max_tokens: int):
        from foundry_local_sdk import ChatSession, RequestOptions, SearchOptions

        session = ChatSession(self.model)  # a fresh session per request: sessions keep the conversation
        session.set_options(RequestOptions(search=SearchOptions(temperature=0.0, max_output_tokens=max_tokens)))
        return session

    def preflight(self, prompt: str, max_tokens: int = 32):
        with self._session(max_tokens) as s, self._request(prompt) as req:
            return s.preflight_request(req)

    def chat(self, prompt: str, max_tokens: int = 32) -> Chat:
        start = time.perf_counter()
        text = ""
        with self._session(max_tokens) as s, self._request(prompt) as req, s.process_request(req) as resp:
            for item in resp:
                for part in getattr(item, "parts", None) or [item]:
                    text += getattr(part, "text", "") or ""
        return Chat(text, time.perf_counter() - start)

    def stream(self, prompt: str, max_tokens: int = 32) -> Iterator[str]:
        with self._session(max_tokens) as s, self._request(prompt) as req:
            s.set_streaming(True)
            for item in s.process_streaming_request(req):
                if getattr(item, "text", None):
                    yield item.text

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.model.unload()
        with contextlib.suppress(Exception):
            self.catalog.unregister_model(self.id)

    def __enter__(self) -> LocalModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class WebServiceProbe:
    url: str
    models_listed: list[str]
    model_status: int  # GET /v1/models/{id}
    chat_status: int
    chat_answer: str


def web_routes() -> list[str]:
    """The HTTP routes compiled into the SDK's native library (its web service has no others)."""
    from foundry_local_sdk._native import lib_loader

    lib = lib_loader.find_library()
    if lib is None or not lib.is_file():
        raise SlmlabError("cannot find Foundry Local's native library (libfoundry_local) in the installed SDK")
    return sorted({m.decode() for m in re.findall(rb"/v1/[a-z_/{}]+", lib.read_bytes())})


def probe_web_service(model: LocalModel, prompt: str = "Return the", timeout: float = 60) -> WebServiceProbe:
    """Start the SDK's web service, ask it for its models and for a chat completion with the local model, stop it."""
    import httpx

    m = manager()
    m.start_web_service()
    try:
        urls = m.urls if isinstance(m.urls, (list, tuple)) else [m.urls]
        url = urls[0]
        listed = [d.get("id") for d in httpx.get(f"{url}/v1/models", timeout=timeout).json().get("data", [])]
        model_status = httpx.get(f"{url}/v1/models/{model.id}", timeout=timeout).status_code
        r = httpx.post(
            f"{url}/v1/chat/completions",
            timeout=timeout,
            json={"model": model.id, "messages": [{"role": "user", "content": prompt}], "max_tokens": 8},
        )
        return WebServiceProbe(url, listed, model_status, r.status_code, r.text[:300])
    finally:
        m.stop_web_service()


def sdk_names() -> tuple[str, set[str]]:
    """The installed Foundry Local SDK's version and every name it defines: its modules' names and their classes'
    attributes (what a program can call). The lesson's feature claims are judged against this list."""
    import inspect
    import pkgutil
    from importlib import import_module
    from importlib.metadata import version

    import onnxruntime_genai  # noqa: F401  (first: see `manager`)

    # isort: split
    import foundry_local_sdk

    names: set[str] = set()
    for info in pkgutil.walk_packages(foundry_local_sdk.__path__, "foundry_local_sdk."):
        if info.name.endswith("build_cffi"):  # a build script for the SDK's own developers, not part of the API
            continue
        module = import_module(info.name)
        for name, obj in vars(module).items():
            names.add(name)
            if inspect.isclass(obj):
                names.update(vars(obj))
    return version("foundry-local-sdk"), {n for n in names if not n.startswith("__")}
