"""Launch the app for real and drive it over HTTP with gradio_client."""
import os

import pytest
from PIL import Image

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gradio_client = pytest.importorskip("gradio_client")

import app  # noqa: E402
from catgan.models import ModelConfig, build_generator  # noqa: E402


@pytest.fixture
def served(tmp_path):
    servers = []

    def serve(weights_root):
        demo = app.build_demo(weights_root).queue()
        _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
        servers.append(demo)
        return gradio_client.Client(url, download_files=str(tmp_path / "dl"), verbose=False,
                                    analytics_enabled=False)

    yield serve
    for demo in servers:
        demo.close()


def test_grow_cats_over_http(served, tmp_path):
    g = build_generator(ModelConfig(img_size=32, z_dim=16, g_width=8, d_width=8))
    g.save_pretrained(tmp_path / "w" / "dcgan-32", config=g.config)
    client = served(tmp_path / "w")
    gallery, info = client.predict("dcgan-32", 3, 5, 2, api_name="/grow")
    assert len(gallery) == 5 and "DCGAN at 32px, seed 3" in info
    assert Image.open(gallery[0]["image"]).size == (64, 64)
    again, _ = client.predict("dcgan-32", 3, 5, 2, api_name="/grow")
    assert Image.open(again[0]["image"]).tobytes() == Image.open(gallery[0]["image"]).tobytes()  # seeded
    with pytest.raises(gradio_client.exceptions.AppError, match="not in the list of choices"):
        client.predict("../../etc", 0, 1, 1, api_name="/grow")


def test_no_weights_gives_a_readable_error(served, tmp_path):
    client = served(tmp_path / "empty")
    with pytest.raises(gradio_client.exceptions.AppError, match="No trained weights found"):
        client.predict(None, 0, 4, 1, api_name="/grow")
