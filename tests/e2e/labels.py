"""Measuring the network view's text: every label's box, on screen, as the browser lays it out."""

from typing import Any

# Every visible text of the network's SVG: its box, and the box of the panel it must stay in.
MEASURE = """() => {
  const root = document.querySelector('[data-net]');
  const panel = root.getBoundingClientRect();
  const boxes = [];
  for (const t of root.querySelectorAll('svg text')) {
    if (!t.textContent.trim()) continue;
    let hidden = false;
    for (let e = t; e && e !== root; e = e.parentElement) {
      if (e.getAttribute('visibility') === 'hidden' || getComputedStyle(e).display === 'none') hidden = true;
    }
    if (hidden) continue;
    const r = t.getBoundingClientRect();
    if (!r.width) continue;
    boxes.push({ text: t.textContent, cls: t.getAttribute('class'), x: r.left, y: r.top, w: r.width, h: r.height });
  }
  return { panel: { x: panel.left, y: panel.top, w: panel.width, h: panel.height }, boxes };
}"""


def overlaps(a: dict[str, Any], b: dict[str, Any], slack: float = 0.5) -> bool:
    return (
        a["x"] + a["w"] - slack > b["x"]
        and b["x"] + b["w"] - slack > a["x"]
        and a["y"] + a["h"] - slack > b["y"]
        and b["y"] + b["h"] - slack > a["y"]
    )


def label_faults(page: Any) -> list[str]:
    """Pairs of labels that overlap, and labels that leave the panel, in words."""
    m = page.evaluate(MEASURE)
    p, boxes = m["panel"], m["boxes"]
    faults = []
    for b in boxes:
        if (
            b["x"] < p["x"] - 0.5
            or b["y"] < p["y"] - 0.5
            or b["x"] + b["w"] > p["x"] + p["w"] + 0.5
            or b["y"] + b["h"] > p["y"] + p["h"] + 0.5
        ):
            faults.append(f"{b['text']!r} ({b['cls']}) leaves the panel")
    for k, a in enumerate(boxes):
        for b in boxes[k + 1 :]:
            if overlaps(a, b):
                faults.append(f"{a['text']!r} ({a['cls']}) overlaps {b['text']!r} ({b['cls']})")
    return faults


def label_count(page: Any) -> int:
    return len(page.evaluate(MEASURE)["boxes"])
