"""Round trips through the running app (`python app.py` in a subprocess), via gradio_client:
a slider move (one 64x64 cat), a new 16-cat grid, a 48-frame interpolation, one score.

    python bench/app_latency.py [--url URL] [--real ../shared/data/cat-faces-64.zip] [--reps 30]
                                [--weights DIR --model NAME]

gradio_client waits for results in 50 ms polling steps, so its round trips carry up to ~50 ms of
client-side slack. The slider is therefore also timed over the raw queue protocol a browser uses
(POST queue/join, read the SSE stream, GET the image), which is the server's own share.
Prints figures; never fails because a machine is slow.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import torch
from _server import ROOT, AppServer, percentiles
from gradio_client import Client, handle_file
from PIL import Image

sys.path.insert(0, str(ROOT))
from catgan.judges import JudgeUnavailable, load_judge  # noqa: E402
from catgan.judges.cam import judge_map  # noqa: E402

SLIDERS = [0.0] * 8  # pc1..pc8 at rest


def timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def raw_slider(url: str, model: str, reps: int) -> list[float]:
    """Slider moves the way the browser sends them."""
    cfg = httpx.get(url + "config").json()
    fn = next(d["id"] for d in cfg["dependencies"] if d.get("api_name") == "slide")
    out = []
    with httpx.Client(base_url=url, timeout=60) as h:
        for i in range(reps):
            sh = uuid.uuid4().hex
            # the inputs: the grid's, then d1..d6 (the named sliders), then pc1..pc8; move d1
            data = [model, 0, 1, 1.0, "nearest", 4, round((i % 20) / 4 - 2.5, 1), *[0.0] * 5, *SLIDERS]
            t = time.perf_counter()
            h.post("gradio_api/queue/join", json={"data": data, "fn_index": fn, "session_hash": sh,
                                                  "event_data": None, "trigger_id": None})
            with h.stream("GET", "gradio_api/queue/data", params={"session_hash": sh}) as r:
                for line in r.iter_lines():
                    if "process_completed" in line:
                        msg = json.loads(line.removeprefix("data:"))
                        break
            if "data" not in msg["output"]:  # say what the server said, not a KeyError
                raise RuntimeError(f"/slide failed: {str(msg['output'].get('error'))[:300]}")
            h.get(msg["output"]["data"][0]["url"]).raise_for_status()
            out.append(time.perf_counter() - t)
    return out


def map_timings(image, reps: int) -> dict[str, list[float]]:
    """Grad-CAM alone, in this process: one forward and one backward pass per 224 px judge, at one
    torch thread as the app runs (two threads on a busy 2-core machine spin: 30x slower)."""
    torch.set_num_threads(1)
    out = {}
    for name in ("efficientnet_lite0", "mobilenet_v2", "resnet-animals", "resnet50"):
        try:
            judge = load_judge(name, fallback=False)
        except JudgeUnavailable:
            continue
        judge_map(judge, image)
        out[f"Grad-CAM map alone, {name} (in process)"] = timed(lambda: judge_map(judge, image), reps)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="a running app (default: start one)")
    p.add_argument("--real", default=None, help="real photos (only for the server's quiz; not timed here)")
    p.add_argument("--model", default="dcgan-64")
    p.add_argument("--weights", type=Path, default=None, help="the app's folder of weights folders (default: weights/)")
    p.add_argument("--reps", type=int, default=30)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="catgan-latency-"))
    server = None if args.url else AppServer(args.real, tmp / "quiz.sqlite", args.weights)
    url = args.url or server.url
    try:
        c = Client(url, analytics_enabled=False, verbose=False, download_files=str(tmp / "dl"))
        m = args.model
        c.predict(m, 0, 1, 1.0, "nearest", 4, api_name="/select_model")  # load the model and its directions once
        i = iter(range(10**6))
        results = {
            "slider move, 1 cat 64x64 (gradio_client)": timed(lambda: c.predict(
                m, 0, 1, 1.0, "nearest", 4, pc1=round((next(i) % 20) / 4 - 2.5, 1), api_name="/slide"), args.reps),
            "named slider move (d1), 1 cat 64x64 (gradio_client)": timed(lambda: c.predict(
                m, 0, 1, 1.0, "nearest", 4, d1=round((next(i) % 20) / 4 - 2.5, 1), api_name="/slide"), args.reps),
            "named slider move, 1 cat 64x64 (raw queue protocol, as the browser)": raw_slider(url, m, args.reps),
            "new 16-cat grid": timed(lambda: c.predict(m, 16, 1.0, "nearest", 3, api_name="/new_cats"),
                                     max(5, args.reps // 2)),
            "48-frame interpolation (MP4 + GIF + strip)": timed(lambda: c.predict(
                "seed", next(i), 1, "slerp", 48, 24, "loop", "nearest", m, 0, 1.0, api_name="/interpolate"),
                max(3, args.reps // 6)),
        }
        cat = c.predict(m, 0, 1.0, api_name="/send_sample")
        c.predict(handle_file(cat), "efficientnet_lite0", api_name="/score")  # load the judge once
        results["one score + its Grad-CAM map (efficientnet_lite0, upload included)"] = timed(
            lambda: c.predict(handle_file(cat), "efficientnet_lite0", api_name="/score"), max(5, args.reps // 2))
        cat_image = Image.open(cat)
    finally:
        if server:
            server.close()
    results.update(map_timings(cat_image, max(5, args.reps // 3)))  # with the server gone: a quiet CPU
    print(f"app latency against {url} (model {args.model}); seconds")
    print(f"{'operation':62s} {'n':>4s} {'p50':>7s} {'p95':>7s}")
    for name, xs in results.items():
        p50, p95 = percentiles(xs)
        print(f"{name:62s} {len(xs):4d} {p50:7.3f} {p95:7.3f}")


if __name__ == "__main__":
    main()
