"""A local stand-in for the Hugging Face Hub's HTTP API: the endpoints huggingface_hub calls to
create model, dataset and Space repos, commit to them (upload_folder, create_commit,
CommitScheduler) and read them back (repo_info, list_repo_tree, hf_hub_download, snapshot_download).

Every file is answered "regular" at preupload, with the remote git oid so that unchanged files are
skipped as on the real Hub (which sends binary files through LFS/Xet instead; huggingface_hub
decides that from the same answer). Every request needs the test token. Repos are keyed
"USER/NAME" for models and "datasets/USER/NAME" or "spaces/USER/NAME" for the others.
"""
from __future__ import annotations

import base64
import hashlib
import json
import socket
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from huggingface_hub import constants
from huggingface_hub.utils.sha import git_hash

TOKEN = "hf_catganTESTsecret0123456789abcdef"  # fake; must never leave the Authorization header
KINDS = {"models": "", "datasets": "datasets/", "spaces": "spaces/"}  # API path -> key prefix
KIND_OF_TYPE = {None: "models", "model": "models", "dataset": "datasets", "space": "spaces"}


class FakeHub:
    def __init__(self):
        self.repos: dict[str, dict] = {}  # key -> {"refs": {branch: sha}, "commits": {sha: {...}}, ...}
        self.requests: list[dict] = []
        self.fail_commit = 0  # HTTP status to answer commits with
        self.lock = threading.Lock()
        hub_ = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                hub_.handle(self, "GET")

            def do_HEAD(self):
                hub_.handle(self, "HEAD")

            def do_POST(self):
                hub_.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # ------------------------------------------------------------ what tests read
    def commits(self, key):
        return self.repos.get(key, {}).get("commits", {})

    def head(self, key, ref="main") -> dict:
        return self.commits(key)[self.repos[key]["refs"][ref]]

    def files(self, key, ref="main") -> dict[str, bytes]:
        return self.head(key, ref)["files"]

    # ------------------------------------------------------------ serving
    def _commit(self, repo, parent, files, message):
        sha = hashlib.sha1(f"{parent}{message}{sorted(files.items())}{len(repo['commits'])}".encode()).hexdigest()
        repo["commits"][sha] = {"files": files, "parent": parent, "message": message, "added": [], "deleted": []}
        return sha

    def handle(self, req, method):
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        url = urlsplit(req.path)
        self.requests.append({"method": method, "path": req.path, "body": body,
                              "headers": {k.lower(): v for k, v in req.headers.items()}})
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        with self.lock:
            if req.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self.reply(req, 401, {"error": "Invalid credentials"}, head=method == "HEAD")
            if parts[:3] == ["api", "repos", "create"]:
                return self.reply(req, *self.create(json.loads(body)))
            if parts[:2] == ["api", "validate-yaml"]:
                yaml.safe_load(json.loads(body)["content"].split("---")[1])
                return self.reply(req, 200, {"errors": [], "warnings": []})
            if parts[0] == "api" and len(parts) >= 4 and parts[1] in KINDS:
                key = KINDS[parts[1]] + f"{parts[2]}/{parts[3]}"
                if key not in self.repos:
                    return self.reply(req, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                action, rest = (parts[4], parts[5:]) if len(parts) > 4 else ("revision", ["main"])
                return self.reply(req, *self.repo_action(key, action, rest, body))
            if "resolve" in parts:  # [datasets|spaces/]USER/NAME/resolve/REV/PATH
                i = parts.index("resolve")
                return self.download(req, method, "/".join(parts[:i]), parts[i + 1], "/".join(parts[i + 2:]))
            return self.reply(req, 404, {"error": "not found"})

    def create(self, data):
        kind = KIND_OF_TYPE[data.get("type")]
        key = KINDS[kind] + f"{data['organization']}/{data['name']}"
        if key in self.repos:
            return 409, {"error": "You already created this repo", "url": f"{self.url}/{key}"}
        repo = self.repos[key] = {"refs": {}, "commits": {}, "private": data.get("visibility") == "private",
                                  "sdk": data.get("sdk")}
        repo["refs"]["main"] = self._commit(repo, None, {".gitattributes": b"*.safetensors filter=lfs\n"},
                                            "initial commit")
        return 200, {"url": f"{self.url}/{key}"}

    def repo_action(self, key, action, rest, body):
        repo = self.repos[key]
        ref = rest[0] if rest else "main"
        if action == "branch":
            if ref in repo["refs"]:
                return 409, {"error": "branch exists"}
            repo["refs"][ref] = repo["refs"]["main"]
            return 200, {}
        head = repo["refs"].get(ref, ref if ref in repo["commits"] else None)
        if head is None:
            return 404, {"error": "Revision not found"}, {"X-Error-Code": "RevisionNotFound"}
        files = repo["commits"][head]["files"]
        repo_id = key.split("/", 1)[1] if key.startswith(("datasets/", "spaces/")) else key
        if action == "revision":
            return 200, {"id": repo_id, "sha": head, "private": repo["private"], "sdk": repo["sdk"],
                         "siblings": [{"rfilename": f} for f in sorted(files)]}
        if action == "tree":
            prefix = "/".join(rest[1:])
            return 200, [{"type": "file", "path": f, "size": len(data), "oid": git_hash(data)}
                         for f, data in sorted(files.items()) if f.startswith(prefix)]
        if action == "preupload":
            return 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                    "oid": git_hash(files[f["path"]]) if f["path"] in files else None}
                                   for f in json.loads(body)["files"]]}
        if action == "commit":
            if self.fail_commit:
                return self.fail_commit, {"error": "Internal Error - We're working hard to fix this"}
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            header = next(x["value"] for x in lines if x["key"] == "header")
            added = {x["value"]["path"]: base64.b64decode(x["value"]["content"]) for x in lines if x["key"] == "file"}
            deleted = {x["value"]["path"] for x in lines if x["key"] == "deletedFile"}
            folders = {x["value"]["path"].rstrip("/") + "/" for x in lines if x["key"] == "deletedFolder"}
            kept = {f: d for f, d in files.items() if f not in deleted and not f.startswith(tuple(folders))}
            repo["refs"][ref] = sha = self._commit(repo, head, {**kept, **added}, header["summary"])
            repo["commits"][sha].update(added=sorted(added), deleted=sorted(set(files) - set(kept)))
            return 200, {"commitUrl": f"{self.url}/{key}/commit/{sha}", "commitOid": sha}
        return 404, {"error": f"unknown action {action}"}

    def download(self, req, method, key, ref, path):
        repo = self.repos.get(key)
        head = repo and repo["refs"].get(ref, ref if ref in repo["commits"] else None)
        if not head or path not in repo["commits"][head]["files"]:
            return self.reply(req, 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"},
                              head=method == "HEAD")
        data = repo["commits"][head]["files"][path]
        headers = {"X-Repo-Commit": head, "ETag": f'"{git_hash(data)}"', "Content-Type": "application/octet-stream"}
        return self.reply(req, 200, data, headers, head=method == "HEAD")

    def reply(self, req, status, out, headers=None, head=False):
        data = out if isinstance(out, bytes) else json.dumps(out).encode()
        req.send_response(status)
        for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        if not head:
            req.wfile.write(data)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """The stand-in, with HF_ENDPOINT, HF_TOKEN and online mode set for huggingface_hub, and an
    empty HF cache of the test's own."""
    server = FakeHub()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # to check staging is cleaned up
    (tmp_path / "tmp").mkdir()
    yield server
    server.close()
