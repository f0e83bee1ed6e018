"""A real browser (Debian's Chromium, driven by Playwright) clicks through every tab.

Screenshots go to a temp folder, or to $CATGAN_SCREENSHOTS (docs/screenshots holds committed
ones). The quiz's "real" photos here are synthetic, so no real photo ever lands in a screenshot.
Generators: tiny untrained ones, or the weights root in $CATGAN_BROWSER_WEIGHTS (e.g. weights/).
"""
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import jpeg_bytes, synthetic_faces, write_zip

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Chromium: apt-get install -y chromium")

from test_app import Served, tiny_weights  # noqa: E402

from catgan.quiz.limits import QuizLimits  # noqa: E402

GREY_GINGER = "grey ↔ ginger"  # a named direction of the shipped dcgan-64 (tiny test models have others)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """(browser, url): Chromium and the app it visits."""
    tmp = tmp_path_factory.mktemp("browser")
    fakes = write_zip(tmp / "synthetic-cats.zip",
                      {f"{i}.jpg": jpeg_bytes(im) for i, im in enumerate(synthetic_faces(40))})
    weights = Path(os.environ.get("CATGAN_BROWSER_WEIGHTS") or tiny_weights(tmp / "weights"))
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):  # Chromium writes its profile there
        os.environ[var] = str(tmp / "home")
    with (Served(tmp, weights_root=weights, real_source=str(fakes), real_limit=40, quiz_db=tmp / "quiz.sqlite",
                 quiz_limits=QuizLimits.off()) as server, sync_api.sync_playwright() as p):
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium, server.url
        chromium.close()


def open_page(browser, **kwargs):
    chromium, url = browser
    pg = chromium.new_page(**kwargs)
    pg.set_default_timeout(30_000)
    pg.goto(url, wait_until="load")
    return pg


@pytest.fixture(scope="module")
def page(browser):
    return open_page(browser, viewport={"width": 1280, "height": 1000})


def shot(page, name, full_page=True):
    folder = Path(os.environ.get("CATGAN_SCREENSHOTS") or Path(os.environ.get("TMPDIR", "/tmp")) / "catgan-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)
    assert (folder / f"{name}.png").stat().st_size > 10_000


def test_sample_tab_in_a_browser(page):
    page.get_by_text(" px, z_dim ").first.wait_for()  # demo.load drew the first grid
    # the model's named directions come first; the principal directions wait in a folded section
    assert page.get_by_text("dark ↔ light fur").first.is_visible()
    assert page.get_by_text("Principal directions (GANSpace)").is_visible()
    assert not page.get_by_text("% of variance").first.is_visible()
    # the grid size, truncation and zoom sliders come first, then the named ones
    box = page.locator("input[type=range]:visible").nth(3).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()  # a drag: .change while moving, .release at the end
    page.get_by_text("moved along dark ↔ light fur").first.wait_for()
    page.get_by_role("button", name="New cats").click()
    page.get_by_text(re.compile(r"seed [1-9]\d*, 16 cats")).wait_for()  # a fresh random seed: the new grid is in
    page.wait_for_function("() => !document.body.innerText.includes('processing')"
                           " && [...document.images].every(img => img.complete)")
    shot(page, "sample")


def test_interpolate_tab_in_a_browser(page):
    page.get_by_label("Model (weights/").click()  # another model in the Sample tab: Interpolate follows it
    page.get_by_role("option", name=re.compile(r"^gan-32")).click()
    page.get_by_text("GAN at 32 px").first.wait_for()
    page.get_by_role("tab", name="Interpolate").click()
    page.get_by_role("button", name="Interpolate", exact=True).click()
    page.get_by_text("frames (slerp, ping-pong)").wait_for()
    assert page.get_by_text("; model gan-32 (weights").is_visible()
    page.locator("video").first.wait_for()
    shot(page, "interpolate")


def test_quiz_tab_in_a_browser(page):
    page.get_by_role("tab", name="Quiz").click()  # the tab opens with a pair, no button needed
    page.locator("img[src*='/catgan/'][src$='.png']:visible").nth(1).wait_for()
    page.get_by_role("button", name="The left one is real").click()
    page.get_by_text("cat is the real photo").wait_for()
    assert page.get_by_text("People were fooled").first.is_visible()
    page.get_by_role("button", name="Next pair").click()
    page.get_by_text("cat is the real photo").wait_for(state="detached")  # the new pair clears the reveal
    page.locator("img[src*='/catgan/'][src$='.png']:visible").nth(1).click()  # clicking a photo answers too
    page.get_by_text("cat is the real photo").wait_for()
    assert page.get_by_text(re.compile(r"Your score: \d / 2,")).is_visible()
    shot(page, "quiz")


def test_score_tab_in_a_browser(page):
    page.get_by_role("tab", name="Score").click()
    page.get_by_role("button", name="Use the current sample (Sample tab, first cat)").click()
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Score", exact=True).click()
    page.get_by_text("P(cat) =").wait_for()
    maps = "img[src*='/file='][src$='.png']:visible"  # the judge's map, then one per judge in the compare view
    page.get_by_text("Where the judge looks").first.wait_for()
    page.wait_for_function(f"() => document.querySelectorAll(\"{maps}\".replace(':visible', '')).length >= 1")
    page.get_by_text("Compare: the same image, every judge").click()
    page.get_by_role("button", name="Compare judges").click()
    page.wait_for_function("() => document.body.innerText.includes('unavailable')")
    page.get_by_text("efficientnet_lite0: ").first.wait_for()  # a map's caption in the gallery
    page.wait_for_function("() => [...document.images].every(img => img.complete)")
    shot(page, "score")


def test_your_cat_in_a_browser(page, tmp_path):
    """Upload Chelsea, see her twin, move a named slider, walk from her in Interpolate, score both."""
    skimage = pytest.importorskip("skimage")
    from PIL import Image
    photo = tmp_path / "chelsea.png"
    Image.fromarray(skimage.data.chelsea()).save(photo)
    page.get_by_role("tab", name="Your cat").click()
    page.locator("#your-cat-photo input[type=file]").set_input_files(str(photo))
    page.locator("#your-cat-photo img").first.wait_for()
    page.get_by_role("button", name="Find its twin").click()
    page.get_by_text("found by the cat-face detector").wait_for()
    named = page.locator("input[type=range][aria-label*='↔']:visible").first  # relabelled for the twin's model
    named.wait_for()
    label = GREY_GINGER if GREY_GINGER in page.content() else named.get_attribute("aria-label").split(" for ")[1]
    twin = page.locator("img[src$='cats.png']:visible").first
    before = twin.get_attribute("src")
    box = page.locator(f"input[type=range][aria-label='range slider for {label}']:visible").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_function("(before) => [...document.querySelectorAll(\"img[src$='cats.png']\")]"
                           ".some(img => img.offsetParent && img.getAttribute('src') !== before)", arg=before)
    page.get_by_role("button", name="Score both").click()
    page.get_by_text("its twin", exact=True).first.wait_for()  # the verdicts' table
    page.wait_for_function("() => [...document.images].filter(img => img.offsetParent).every(img => img.complete)")
    shot(page, "your-cat")
    page.get_by_role("button", name="Walk from it").click()  # to Interpolate, starting from the twin
    page.get_by_role("button", name="Interpolate", exact=True).click()
    page.get_by_text("from your cat to seed").wait_for()
    page.locator("video").first.wait_for()


def test_a_phone_sees_cats_and_every_tab_on_its_first_screen(browser):
    phone = open_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    cats = phone.locator("img[src$='cats.png']").first  # the Sample tab's grid, drawn at page load
    cats.wait_for()
    phone.wait_for_function("() => [...document.images].every(img => img.complete)")
    box = cats.bounding_box()
    assert box["height"] > 200 and box["y"] >= 0 and box["y"] + box["height"] <= 844, box
    for name in ("Sample", "Your cat", "Interpolate", "Quiz", "Score"):  # no tab hides in a "…" menu
        tab = phone.get_by_role("tab", name=name, exact=True)
        assert tab.is_visible(), name
        tab_box = tab.bounding_box()
        assert 0 <= tab_box["x"] and tab_box["x"] + tab_box["width"] <= 390 and tab_box["y"] < box["y"], name
    shot(phone, "phone", full_page=False)  # docs/screenshots/phone.png: what a phone shows first
    phone.close()
