"""The stacked chart of the demo site as Chromium draws it: readable on a 390 px phone, its colours
at least 3:1 against the card in light and dark, one colour per model."""

from __future__ import annotations

from pathlib import Path

import pytest


pytestmark = [pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

#: What the page reports: each SVG text's size as drawn (its CSS size times the SVG's scale), the
#: legend's text sizes, each segment's fill by series and the card's background, the SVG's height.
MEASURE = """svg => {
  const scale = svg.getScreenCTM().a;
  const block = svg.closest('.chart-block');
  const legend = block.querySelectorAll('.chart-legend li');
  return {
    texts: [...svg.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * scale),
    legend: [...legend].map(li => parseFloat(getComputedStyle(li).fontSize)),
    swatches: [...block.querySelectorAll('.chart-legend .key')].map(s => getComputedStyle(s).backgroundColor),
    fills: Object.fromEntries([...svg.querySelectorAll('rect.stack')].map(
      r => [r.querySelector('title').textContent.split(',')[0], getComputedStyle(r).fill])),
    background: getComputedStyle(block).backgroundColor,
    height: svg.getBoundingClientRect().height,
  };
}"""


def _luminance(rgb: str) -> float:
    red, green, blue = (int(part) / 255 for part in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3])
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_is_the_wcag_ratio():
    assert contrast("rgb(255, 255, 255)", "rgb(0, 0, 0)") == pytest.approx(21)
    assert contrast("rgb(118, 118, 118)", "rgb(255, 255, 255)") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [390, 1280])
def test_the_stacked_chart_is_readable_and_its_colours_stand_out(chromium_browser, demo_site, scheme, width):
    page = chromium_browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    try:
        page.goto((demo_site / "monthly-model-breakdown.html").as_uri())
        chart = page.locator("svg.chart-stacked")
        found = chart.evaluate(MEASURE)
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".chart-block").first.screenshot(path=str(ARTIFACTS / f"stacked-chart-{width}-{scheme}.png"))
    finally:
        page.close()
    assert found["height"] == pytest.approx(280, abs=1)
    assert found["texts"] and min(found["texts"]) >= 11, found["texts"]
    assert min(found["legend"]) >= 11
    fills = found["fills"]
    assert len(fills) >= 3 and len(set(fills.values())) == len(fills)  # a colour of its own per series
    assert set(found["swatches"]) == set(fills.values())                # the legend shows the same colours
    ratios = {name: round(contrast(fill, found["background"]), 2) for name, fill in fills.items()}
    assert min(ratios.values()) >= 3, ratios
