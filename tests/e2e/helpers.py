"""What the browser tests share: opening a preset and reading the page's store."""

from typing import Any


def fmt(v: float, digits: int = 4) -> str:
    """The page's number format: significant digits and a true minus sign."""
    return f"{v:.{digits}g}".replace("-", "\u2212")


def open_preset(page: Any, name: str, query: str = "") -> None:
    page.goto(f"/?preset={name}{query}")
    page.wait_for_function(
        """name => {
          const s = window.deltaflow?.store;
          if (!s?.server || s.server.scenario.name !== name || s.conn.status !== "open" || s.dirty.size) return false;
          const units = s.layers.reduce((a, b) => a + b, 0);
          return document.querySelectorAll("[data-net] [data-neuron]").length === units;
        }""",
        arg=name,
    )


def wait_phase(page: Any, phase: str, layer: int | None = None) -> None:
    """Until the page has shown `phase` (of `layer`) and its animation has settled."""
    page.wait_for_function(
        """([phase, layer]) => {
          const s = window.deltaflow.store;
          return document.querySelector('[data-phase]').textContent === phase
            && (layer === null || s.shown?.layer === layer)
            && document.querySelector('[data-net]').dataset.animating === 'false';
        }""",
        arg=[phase, layer],
    )
