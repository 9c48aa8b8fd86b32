"""The offline assets of the map pages: Leaflet, Leaflet.markercluster and jQuery, copied from
the xstatic packages.

folium loads Leaflet, jQuery, Bootstrap and Font Awesome from CDNs by default; at many health
centres (and here) those requests fail, and the pages must not leak who is visited where anyway.
The pages of :mod:`maps` therefore reference only the files written by :func:`write_assets`,
by a path relative to the page (``assets/leaflet.js``), and use only Leaflet-native features
(``CircleMarker``, ``DivIcon``, ``PolyLine``, tooltips, ``LayerControl``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Final

import xstatic.pkg.jquery
import xstatic.pkg.leaflet
import xstatic.pkg.leaflet_markercluster

__all__ = [
    "ASSETS_DIR",
    "cluster_css_links",
    "cluster_js_links",
    "css_links",
    "js_links",
    "write_assets",
]

ASSETS_DIR: Final = "assets"
"""The folder, next to the pages, that holds the assets."""

# (folium name, file in the package's data folder, file name written)
_JS: Final = (
    ("leaflet", xstatic.pkg.leaflet.BASE_DIR, "leaflet.js"),
    ("jquery", xstatic.pkg.jquery.BASE_DIR, "jquery.min.js"),
)
_CSS: Final = (("leaflet_css", xstatic.pkg.leaflet.BASE_DIR, "leaflet.css"),)
# Leaflet.markercluster, under folium's names for it (a day page's stops close together).
_CLUSTER_JS: Final = (
    ("markerclusterjs", xstatic.pkg.leaflet_markercluster.BASE_DIR, "leaflet.markercluster.js"),
)
_CLUSTER_CSS: Final = (
    ("markerclustercss", xstatic.pkg.leaflet_markercluster.BASE_DIR, "MarkerCluster.css"),
    (
        "markerclusterdefaultcss",
        xstatic.pkg.leaflet_markercluster.BASE_DIR,
        "MarkerCluster.Default.css",
    ),
)


def js_links(assets_url: str = ASSETS_DIR) -> list[tuple[str, str]]:
    """The ``default_js`` of a map whose page finds the assets at ``assets_url``."""
    return [(name, f"{assets_url}/{file}") for name, _, file in _JS]


def css_links(assets_url: str = ASSETS_DIR) -> list[tuple[str, str]]:
    """The ``default_css`` of a map whose page finds the assets at ``assets_url``."""
    return [(name, f"{assets_url}/{file}") for name, _, file in _CSS]


def cluster_js_links(assets_url: str = ASSETS_DIR) -> list[tuple[str, str]]:
    """The ``default_js`` of a ``folium.plugins.MarkerCluster`` on such a page."""
    return [(name, f"{assets_url}/{file}") for name, _, file in _CLUSTER_JS]


def cluster_css_links(assets_url: str = ASSETS_DIR) -> list[tuple[str, str]]:
    """The ``default_css`` of a ``folium.plugins.MarkerCluster`` on such a page."""
    return [(name, f"{assets_url}/{file}") for name, _, file in _CLUSTER_CSS]


def write_assets(out_dir: Path) -> None:
    """Copy Leaflet (JS, CSS, marker images), Leaflet.markercluster and jQuery into
    ``out_dir / "assets"``.

    Parameters
    ----------
    out_dir
        The folder of the pages; created when missing.
    """
    target = Path(out_dir) / ASSETS_DIR
    target.mkdir(parents=True, exist_ok=True)
    for _, base, file in (*_JS, *_CSS, *_CLUSTER_JS, *_CLUSTER_CSS):
        shutil.copyfile(Path(base) / file, target / file)
    images = Path(xstatic.pkg.leaflet.BASE_DIR) / "images"
    if images.is_dir():
        shutil.copytree(images, target / "images", dirs_exist_ok=True)
