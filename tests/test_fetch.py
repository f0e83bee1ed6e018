"""catgan.hub.fetch, the one way catgan reads from the Hub, against the local stand-in
(tests/hub_standin.py): strict ids, sizes checked before downloading, revisions pinned, the cache
offline, and one explanation of every failure."""
import pytest
from hub_standin import closed_port

from catgan.hub.fetch import HubError, TooLarge, Unavailable, check_repo_id, fetch


def put(fake, key: str, files: dict[str, bytes], refs=("main",)) -> str:
    """A commit of ``files`` on the stand-in, which ``refs`` then point to."""
    repo = fake.repos.setdefault(key, {"refs": {}, "commits": {}, "private": False, "sdk": None})
    sha = fake._commit(repo, repo["refs"].get("main"), files, "files")
    repo["refs"].update({ref: sha for ref in refs})
    return sha


@pytest.mark.parametrize("repo_id,revision,said", [
    ("me/cats\n", None, "not a valid repo id: 'me/cats\\\\n'"), ("me/..", None, "not a valid repo id"),
    ("../cats", None, "not a valid repo id"), ("me/cats@..", None, "not a valid repo id"),
    ("me/a/b", None, "not a valid repo id"), ("me/cats", "..", "not a valid revision: '..'"),
    ("me/cats", "main\n", "not a valid revision"), ("me/cats", "a/../b", "not a valid revision")])
def test_ids_and_revisions_are_checked_before_any_request(fake_hub, repo_id, revision, said):
    with pytest.raises(HubError, match=said):
        fetch(repo_id, ["*"], revision=revision)
    assert not fake_hub.requests
    check_repo_id("me/cat-faces_64.v2", "0" * 40)  # the ordinary ones pass


def test_a_revision_is_pinned_and_served_from_the_cache_offline(fake_hub, monkeypatch):
    put(fake_hub, "me/cats", {"a.txt": b"one"}, refs=("main", "v1"))
    put(fake_hub, "me/cats", {"a.txt": b"two", "b.bin": b"\0"})
    (old, reason), (new, _) = fetch("me/cats", ["*.txt"], revision="v1"), fetch("me/cats", ["*.txt"], required=("a.txt",))
    assert (old / "a.txt").read_bytes() == b"one" and (new / "a.txt").read_bytes() == b"two" and reason is None
    assert not (new / "b.bin").exists()  # only what the patterns name
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake_hub.requests.clear()
    assert fetch("me/cats", ["*.txt"], revision="v1") == (old, "offline mode (HF_HUB_OFFLINE=1)")
    assert fetch("me/cats", ["*.txt"])[0] == new and not fake_hub.requests
    with pytest.raises(Unavailable, match="^offline mode .*, and me/cats is only partly in the Hugging Face cache$"):
        fetch("me/cats", ["*"])
    with pytest.raises(Unavailable, match="^b.bin not in the cached copy of me/cats$"):
        fetch("me/cats", ["*.txt"], required=("b.bin",))


def test_sizes_are_checked_before_a_byte_is_downloaded(fake_hub):
    put(fake_hub, "me/big", {"config.json": b"{}", "model.safetensors": b"x" * 5000})
    with pytest.raises(TooLarge, match="^model.safetensors of me/big is 0 MB; this app loads at most 0 MB"):
        fetch("me/big", ["*"], max_bytes=4000)
    with pytest.raises(TooLarge, match="^the files of me/big are 0 MB together"):
        fetch("me/big", ["*"], max_bytes=5001)
    assert not [r for r in fake_hub.requests if r["method"] == "GET" and "/resolve/" in r["path"]]
    assert (fetch("me/big", ["*"], max_bytes=5002)[0] / "model.safetensors").stat().st_size == 5000


def test_failures_are_one_line_and_the_cache_serves_when_the_hub_cannot(fake_hub, monkeypatch):
    with pytest.raises(Unavailable, match=r"^me/none not found on the Hub \(or private and no token\), and me/none "
                                          "is not in the Hugging Face cache$") as err:
        fetch("me/none", ["*"])
    assert err.value.__cause__ is None and err.value.__suppress_context__  # one line, no chained traceback
    put(fake_hub, "me/cats", {"a.txt": b"one"})
    with pytest.raises(Unavailable, match="^config.json not in me/cats@main$"):
        fetch("me/cats", ["*"], required=("config.json",), revision="main")
    cached, _ = fetch("me/cats", ["*.txt"])
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")  # nothing listens: no network
    assert fetch("me/cats", ["*.txt"]) == (cached, "the Hub is unreachable (ConnectError)")
    with pytest.raises(Unavailable, match=r"^the Hub is unreachable \(ConnectError\), and me/dogs is not in the"):
        fetch("me/dogs", ["*"])
