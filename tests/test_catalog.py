import json

import pytest

from slmlab import SlmlabError, catalog, paths

pytestmark = pytest.mark.fast  # no llama.cpp build needed: `make unit`


def test_qwen3_0_6b_matches_its_published_counts():
    p = catalog.parameters("qwen3-0.6b")
    assert p.total == 596_049_920
    assert round(p.non_embedding / 1e9, 2) == 0.44  # model card: 0.44B non-embedding
    assert p.tied_embeddings
    assert catalog.classify(p.total) == "micro"


def test_qwen3_1_7b_is_small():
    p = catalog.parameters("qwen3-1.7b")
    assert p.total == 1_720_574_976
    assert catalog.classify(p.total) == "small"


def test_untied_qwen3_8b_counts_the_output_head_as_embedding():
    p = catalog.parameters("qwen3-8b")
    assert p.total == 8_190_735_360 and not p.tied_embeddings
    assert round(p.non_embedding / 1e9, 2) == 6.95  # model card: 6.95B non-embedding


def test_the_parameter_table_has_every_model_with_its_class_and_published_count():
    table = catalog.parameter_table()
    assert list(table.index) == catalog.names()
    qwen = table.loc["qwen3-0.6b"]
    assert qwen["params"] == 596_049_920 and qwen["class"] == "micro" and qwen["tied"]
    assert qwen["non-embedding"] + qwen["embedding share"] * qwen["params"] == pytest.approx(qwen["params"])
    assert table.loc["phi-4-mini", "class"] == "small"  # the lesson calls it medium
    assert table["vs published"].dropna().abs().max() < 0.09


def test_every_catalog_model_agrees_with_its_published_count():
    for name in catalog.names():
        published = catalog.get(name).published.get("params")
        if published:
            total = catalog.parameters(name).total
            # exact where a library publishes the exact count; nominal names ("8B") are within their rounding
            assert abs(total - published) / published < 0.09, (name, total, published)


def test_gemma_270m_is_mostly_embedding():
    p = catalog.parameters("gemma-3-270m")
    assert p.embedding == 262_144 * 640
    assert round(p.non_embedding / 1e6) == 100  # Google: 100M transformer parameters


@pytest.mark.parametrize(
    "count,expected",
    [
        (4_196_608, "nano"),
        (99_999_999, "nano"),
        (100_000_000, "micro"),
        (1_440_000_000, "micro"),
        (1_450_000_000, "small"),
        (13_900_000_000, "small"),
        (13_950_000_000, "medium"),
        (30_000_000_000, "medium"),
        (30_100_000_000, "large"),
    ],
)
def test_classes_follow_the_lesson_and_close_its_gaps(count, expected):
    assert catalog.classify(count) == expected


def test_info_from_a_local_folder_counts_slm_nano():
    i = catalog.info(str(paths.MODELS_DIR / "slm-nano"))
    assert i.params == 4_196_608 and i.size_class == "nano"


def test_unknown_reference_is_a_clear_error():
    with pytest.raises(SlmlabError, match="no config"):
        catalog.info("not-a-model")


def test_catalog_configs_keep_their_sources():
    sources = (catalog.CATALOG_DIR / "SOURCES.md").read_text()
    for name in catalog.names():
        m = catalog.get(name)
        assert m.config_path.is_file(), name
        json.loads(m.config_path.read_text())
        if m.hub_id:
            assert m.hub_id in sources, f"{m.hub_id} has no source in SOURCES.md"
