"""ipywidgets UIs used by the notebooks. Each returns a widget; the computing is in the other modules."""

from __future__ import annotations

import html

from slmlab import advisor, catalog, measure, sizing


def size_explorer(default_model: str = "qwen3-1.7b"):
    """Pick a model, a quantization type, a context length and a device → file size, KV cache, total, fits or not."""
    import ipywidgets as w

    model = w.Dropdown(options=catalog.names(), value=default_model, description="model")
    qtype = w.Dropdown(options=list(sizing.FILE_TYPES), value="Q4_K_M", description="type")
    context = w.IntSlider(value=4096, min=256, max=131072, step=256, description="context", continuous_update=False)
    device = w.FloatSlider(value=8.0, min=0.5, max=64, step=0.5, description="device GB", continuous_update=False)
    out = w.HTML()
    cache: dict[str, tuple] = {}

    def update(*_):
        name = model.value
        if name not in cache:
            cfg = catalog.get(name).config
            cache[name] = (cfg, sizing.gguf_tensors(cfg))
        cfg, (tensors, hp) = cache[name]
        est = sizing.estimate_file(tensors, hp, qtype.value)
        max_ctx = catalog.context_length(cfg) or context.value
        ctx = min(context.value, max_ctx)
        mem = sizing.runtime_memory(est.total_bytes, cfg, ctx)
        fits = mem["total"] <= device.value * sizing.GB
        rows = [
            ("file", est.total_bytes),
            (f"KV cache at {ctx} tokens", mem["kv_cache"]),
            ("compute buffers (estimate)", mem["compute"]),
            ("total", mem["total"]),
        ]
        table = "".join(
            f"<tr><td>{k}</td><td style='text-align:right'>{v / sizing.GB:.3f} GB</td>"
            f"<td style='text-align:right'>{v / sizing.GiB:.3f} GiB</td></tr>"
            for k, v in rows
        )
        verdict = (
            f"<b style='color:{'green' if fits else 'crimson'}'>"
            f"{'fits' if fits else 'does not fit'} in {device.value:g} GB</b>"
        )
        note = f" (context capped at the model's {max_ctx:,})" if context.value > max_ctx else ""
        out.value = (
            f"<p>{name} · {qtype.value} · {est.bits_per_weight:.2f} bits/weight{note}</p>"
            f"<table>{table}</table><p>{verdict}</p>"
        )

    _rerun_on_change(update, model, qtype, context, device)
    return w.VBox([w.HBox([model, qtype]), w.HBox([context, device]), out])


def advisor_ui(memory_gb: float = 8.0):
    """Device memory, speed target, context and task → the advisor's ranked recommendations."""
    import ipywidgets as w

    simd = [k for k, v in measure.cpu_info().features.items() if v]
    mem = w.FloatSlider(value=memory_gb, min=0.5, max=64, step=0.5, description="memory GB", continuous_update=False)
    speed = w.FloatSlider(value=5, min=1, max=100, step=1, description="min tok/s", continuous_update=False)
    ctx = w.Dropdown(options=[512, 2048, 4096, 8192, 32768], value=4096, description="context")
    task = w.Dropdown(
        options=["chat", "code", "reasoning", "multilingual", "completion"], value="chat", description="task"
    )
    out = w.HTML()

    def update(*_):
        recs, source = advisor.recommend(
            advisor.Device(memory_gb=mem.value, simd=simd),
            advisor.Need(min_tokens_per_s=speed.value, context=ctx.value, task=task.value),
        )
        if not recs:
            out.value = (
                "<p><b>Nothing in the catalog fits.</b> Lower the context or the speed target, or add memory.</p>"
            )
            return
        rows = "".join(
            f"<tr><td>{i}</td><td>{r.model}</td><td>{r.quant}</td><td>{r.memory_gb:.2f} GB</td>"
            f"<td>{r.tokens_per_s:.0f}</td><td>{html.escape(r.runtime)}</td>"
            f"<td style='text-align:left'>{html.escape('; '.join(r.reasons))}</td></tr>"
            for i, r in enumerate(recs, 1)
        )
        out.value = (
            "<table class='slmlab-advice'><tr><th>#</th><th>model</th><th>type</th><th>memory</th>"
            f"<th>tok/s</th><th>runtime</th><th>why</th></tr>{rows}</table>"
            f"<p><small>speed model: {html.escape(source)}</small></p>"
        )

    _rerun_on_change(update, mem, speed, ctx, task)
    return w.VBox([w.HBox([mem, speed]), w.HBox([ctx, task]), out])


def _rerun_on_change(update, *controls) -> None:
    """Call `update` now and whenever one of `controls` changes value."""
    for control in controls:
        control.observe(update, names="value")
    update()
