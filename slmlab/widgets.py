"""ipywidgets UIs used by the notebooks. Each returns a widget; the computing is in the other modules."""

from __future__ import annotations


def size_explorer(default_model: str = "qwen3-1.7b"):
    """Pick a model, a quantization type, a context length and a device → file size, KV cache, total, fits or not."""
    import ipywidgets as w

    from slmlab import catalog, sizing

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
        rows = [("file", est.total_bytes), ("KV cache at %d tokens" % ctx, mem["kv_cache"]),
                ("compute buffers (estimate)", mem["compute"]), ("total", mem["total"])]
        table = "".join(f"<tr><td>{k}</td><td style='text-align:right'>{v / sizing.GB:.3f} GB</td>"
                        f"<td style='text-align:right'>{v / sizing.GiB:.3f} GiB</td></tr>" for k, v in rows)
        verdict = (f"<b style='color:{'green' if fits else 'crimson'}'>"
                   f"{'fits' if fits else 'does not fit'} in {device.value:g} GB</b>")
        note = f" (context capped at the model's {max_ctx:,})" if context.value > max_ctx else ""
        out.value = (f"<p>{name} · {qtype.value} · {est.bits_per_weight:.2f} bits/weight{note}</p>"
                     f"<table>{table}</table><p>{verdict}</p>")

    for control in (model, qtype, context, device):
        control.observe(update, names="value")
    update()
    return w.VBox([w.HBox([model, qtype]), w.HBox([context, device]), out])
