"""What the console's front page shows, contributed by the apps (the kernel imports none of them).

A `Tile` is one number linking to the list it counts (stations offline, calls failed in the last
hour...); a `Panel` is a block with its own template (a chart, a list). Each names the view
permission an operator needs to see it. Apps register theirs in `AppConfig.ready()`:

    dashboard_tile(Tile(section="Firmware & diagnostics", label="rollouts in progress", order=10,
                        count=lambda: Rollout.objects.filter(...).count(),
                        url=lambda: changelist_url("firmwarerollout", app_label="firmware", state="running"),
                        permission="firmware.view_firmwarerollout"))

The page is live: it re-renders when the fleet changes (csms.admin.live, concern "fleet").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

# Sections in the order the page shows them; a section not listed comes last.
SECTIONS = ["Stations", "Connectors", "Charging", "Operations", "Firmware & diagnostics", "Security", "Alerts"]


@dataclass(frozen=True)
class Tile:
    section: str
    label: str
    count: Callable[[], object]
    url: Callable[[], str]
    permission: str
    order: int = 50
    # "bad": shown in red when not zero; "good": green; "": neutral.
    tone: str = ""
    # A colour of the figure regardless of its value (connector states keep their badge colours).
    colour: str = ""
    key: str = field(default="")  # a stable id for the page (tests, live fragments)


@dataclass(frozen=True)
class Panel:
    title: str
    template: str
    context: Callable[[], dict]
    permission: str
    order: int = 50
    key: str = ""


_tiles: list[Tile] = []
_panels: list[Panel] = []


def dashboard_tile(tile: Tile) -> Tile:
    if all(existing.key != tile.key or not tile.key for existing in _tiles):
        _tiles.append(tile)
    return tile


def dashboard_panel(panel: Panel) -> Panel:
    if all(existing.key != panel.key or not panel.key for existing in _panels):
        _panels.append(panel)
    return panel


def _section_order(name: str) -> int:
    return SECTIONS.index(name) if name in SECTIONS else len(SECTIONS)


def dashboard_context(user) -> dict:
    """The tiles and panels `user` may see, computed now, grouped by section."""
    sections: dict[str, list[dict]] = {}
    for tile in sorted(_tiles, key=lambda t: (_section_order(t.section), t.order, t.label)):
        if not user.has_perm(tile.permission):
            continue
        try:
            value = tile.count()
        except Exception:  # one broken figure must not take the front page down
            logger.exception("dashboard tile %r failed", tile.label)
            value = "?"
        sections.setdefault(tile.section, []).append({
            "label": tile.label, "value": value, "url": tile.url(), "key": tile.key, "colour": tile.colour,
            "tone": tile.tone if value not in (0, "0", None) else "",
        })
    panels = []
    for panel in sorted(_panels, key=lambda p: (p.order, p.title)):
        if user.has_perm(panel.permission):
            try:
                panels.append({"title": panel.title, "template": panel.template, "key": panel.key, **panel.context()})
            except Exception:
                logger.exception("dashboard panel %r failed", panel.title)
    return {"dashboard_sections": list(sections.items()), "dashboard_panels": panels}
