"""Time from slider release to the new image on `lacgan serve`'s page, in headless Chromium.

    PYTHONPATH=.:tests python benchmarks/serve_page.py [--editor bundled|warp] [--repeats 10]
        [--photo PATH] [--screenshot docs/serve_page.png]

Starts `lacgan serve` (the bundled model, or --editor warp), opens the page, loads the astronaut (or
--photo), and measures, for the AU12 slider, with the page's own clock (performance.now()):

- click: a click on the slider at a new value (its input and change events at once, one edit);
- drag: the slider dragged by the mouse over a stretch (edits follow it, one in flight at a time),
  timed from the release to the image of the released value (0 when it is already shown).

Each time runs to the edited image's `load` in the page: the request, the edit, the PNG, its decoding.
With --screenshot, also writes the page after a "happy" click and a click three quarters along the
AU12 slider (it reads 0.8: the README's).
"""
import argparse
import statistics

from browser import chromium, open_page, served
from machine import machine, onednn_description

# Resolves with the ms from the slider's next `change` event to the edited image showing its value.
ARM = """() => {
    const slider = document.getElementById("slider-AU12"), edited = document.getElementById("edited");
    window.releaseToImage = new Promise((resolve, reject) => {
        slider.addEventListener("change", () => {
            const released = performance.now(), value = Number(slider.value);
            const shows = () => JSON.parse(edited.dataset.targets || "{}").AU12 === value;
            if (shows() && !state.inFlight) { resolve(0); return; }
            const observer = new MutationObserver(() => {
                if (shows()) { observer.disconnect(); resolve(performance.now() - released); }
            });
            observer.observe(edited, { attributes: true, attributeFilter: ["data-targets"] });
        }, { once: true });
        setTimeout(() => reject(new Error("no new image within 60 s (or the slider did not change)")), 60000);
    });
}"""


def slider_point(page, share: float) -> tuple[float, float]:
    box = page.locator("#slider-AU12").bounding_box()
    return box["x"] + share * box["width"], box["y"] + box["height"] / 2


def timed(page, gesture) -> float:
    page.evaluate(ARM)
    gesture()
    return page.evaluate("window.releaseToImage")


def click_at(page, share: float):
    return lambda: page.mouse.click(*slider_point(page, share))


def drag_to(page, start: float, end: float):
    def gesture():
        page.mouse.move(*slider_point(page, start))
        page.mouse.down()
        for step in range(1, 11):  # a 0.2 s drag, as a hand moves a slider
            page.mouse.move(*slider_point(page, start + (end - start) * step / 10))
            page.wait_for_timeout(20)
        page.mouse.up()
    return gesture


def summary(times: list[float]) -> str:
    return (f"median {statistics.median(times):.0f} ms [min {min(times):.0f}, max {max(times):.0f}] "
            f"over {len(times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--editor", choices=["bundled", "warp"], default="bundled")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--photo", help="a photo to upload instead of the astronaut")
    parser.add_argument("--screenshot", help="write a PNG of the page with an edit here")
    args = parser.parse_args()
    flags = ("--editor", "warp") if args.editor == "warp" else ()
    print(machine(), onednn_description(), sep="; ")
    with served(*flags) as url, chromium() as browser:
        page = open_page(browser, url, height=760)
        if args.photo:
            page.set_input_files("#file", args.photo)
        else:
            page.click("#example")
        page.wait_for_selector("body[data-photo]", timeout=120_000)
        print(page.inner_text("#message"), f"({args.editor})")
        timed(page, click_at(page, 0.9))  # the first edit traces the model's graph: not timed
        # Low and high in turn, so that no click lands on the slider's thumb (which changes nothing).
        shares = [0.2 + 0.6 * (k % 2) + 0.01 * k for k in range(args.repeats)]
        clicks = [timed(page, click_at(page, share)) for share in shares]
        drags = [timed(page, drag_to(page, 1.0 - share, share)) for share in shares]
        print(f"click to image: {summary(clicks)}")
        print(f"drag release to image: {summary(drags)}")
        if args.screenshot:
            page.click("text=happy AU6+AU12")
            page.wait_for_selector("#edited[data-targets='{\"AU6\":1,\"AU12\":1}']", timeout=60_000)
            timed(page, click_at(page, 0.75))
            page.screenshot(path=args.screenshot)
            print(f"wrote {args.screenshot}: {page.get_attribute('#edited', 'data-targets')}")


if __name__ == "__main__":
    main()
