import pytest

from slmlab import SlmlabError, paths

pytestmark = pytest.mark.fast  # no llama.cpp build needed: `make unit`


def test_atomic_output_renames_only_on_success(tmp_path):
    target = tmp_path / "out.bin"
    with paths.atomic_output(target) as tmp:
        tmp.write_bytes(b"done")
        assert not target.exists()
    assert target.read_bytes() == b"done"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_output_leaves_nothing_when_the_work_fails(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with paths.atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("tool crashed")
    assert target.read_bytes() == b"old"  # the previous file survives
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_disk_full_is_reported_in_words(tmp_path):
    with pytest.raises(SlmlabError, match="disk is full"):
        with paths.atomic_output(tmp_path / "big.bin") as tmp:
            tmp.write_bytes(b"x")
            raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_cache_dir_follows_slmlab_home(monkeypatch, tmp_path):
    monkeypatch.setenv("SLMLAB_HOME", str(tmp_path / "cache"))
    assert paths.cache_dir() == tmp_path / "cache" and paths.cache_dir().is_dir()
