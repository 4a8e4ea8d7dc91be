"""metadata.txt, the plugin zip, and loading the plugin from it the way QGIS does."""

from __future__ import annotations

import configparser
import re
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.qgis

REPO = Path(__file__).resolve().parents[2]


def _metadata() -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(REPO / "metadata.txt", encoding="utf-8")
    return cp


def test_metadata_is_complete_and_valid():
    cp = _metadata()
    g = cp["general"]
    for key in (
        "name",
        "qgisMinimumVersion",
        "description",
        "about",
        "version",
        "author",
        "email",
        "tracker",
        "repository",
        "homepage",
        "tags",
        "experimental",
        "license",
        "icon",
    ):
        assert g.get(key, "").strip(), key
    assert g["qgisMinimumVersion"] == "3.22"
    # Ready for QGIS 4 (Qt6): the repository shows the plugin to QGIS 4 users only with these.
    assert g["supportsQt6"] == "True"
    assert int(g["qgisMaximumVersion"].split(".")[0]) >= 4
    assert g["experimental"] in ("True", "False")
    assert re.fullmatch(r"\d+\.\d+\.\d+", g["version"])
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", g["email"])
    for key in ("tracker", "repository", "homepage"):
        assert g[key].startswith("https://"), key
    assert (REPO / "qgis_plugin" / g["icon"]).is_file()
    assert g["hasProcessingProvider"] == "yes"


def test_metadata_version_is_the_engine_version():
    text = (REPO / "engine" / "roadseg" / "_version.py").read_text()
    engine = re.search(r"__version__\s*=\s*[\"']([^\"']+)", text).group(1)
    assert _metadata()["general"]["version"] == engine


def test_qgis_reads_the_metadata(plugins_dir):
    """QGIS's own plugin discovery finds the extracted plugin and parses its metadata."""
    import qgis.utils

    saved = list(qgis.utils.plugin_paths)
    try:
        qgis.utils.plugin_paths = [str(plugins_dir)]
        qgis.utils.updateAvailablePlugins()
        assert "roadseg_qgis" in qgis.utils.available_plugins
        assert qgis.utils.pluginMetadata("roadseg_qgis", "name") == "roadseg"
        assert qgis.utils.pluginMetadata("roadseg_qgis", "qgisMinimumVersion") == "3.22"
    finally:
        qgis.utils.plugin_paths = saved


def test_zip_layout(plugin_zip):
    with zipfile.ZipFile(plugin_zip) as zf:
        names = zf.namelist()
        assert plugin_zip.name == f"roadseg-{_metadata()['general']['version']}.zip"
        assert {n.split("/")[0] for n in names} == {"roadseg_qgis"}
        for required in (
            "__init__.py",
            "plugin.py",
            "metadata.txt",
            "icons/roadseg.png",
            "icons/roadseg.svg",
            "processing_provider/algorithms.py",
            "core/process.py",
            "LICENSE",
            "i18n/README.md",
        ):
            assert f"roadseg_qgis/{required}" in names
        licence = zf.read("roadseg_qgis/LICENSE").decode()
        assert licence == (REPO / "LICENSE").read_text() and licence.startswith("MIT License")
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        assert zf.read("roadseg_qgis/metadata.txt") == (REPO / "metadata.txt").read_bytes()
        # QGIS's "Install from ZIP" takes the folder of the shortest metadata.txt path.
        meta = sorted(n for n in names if n.endswith("metadata.txt"))
        assert meta[0] == "roadseg_qgis/metadata.txt"


def test_package_script_refuses_version_mismatch(tmp_path):
    import shutil

    import package_plugin

    fake = tmp_path / "repo"
    shutil.copytree(
        REPO / "qgis_plugin", fake / "qgis_plugin", ignore=shutil.ignore_patterns("__pycache__")
    )
    (fake / "engine" / "roadseg").mkdir(parents=True)
    (fake / "engine" / "roadseg" / "_version.py").write_text('__version__ = "9.9.9"\n')
    shutil.copy(REPO / "metadata.txt", fake / "metadata.txt")
    with pytest.raises(
        package_plugin.PackagingError, match="differs from the engine version 9.9.9"
    ):
        package_plugin.build(tmp_path / "dist", repo=fake)
    (fake / "metadata.txt").write_text("[general]\nname=x\n")
    with pytest.raises(package_plugin.PackagingError, match="lacks"):
        package_plugin.build(tmp_path / "dist", repo=fake)


def test_plugin_loads_from_zip_with_qgis_machinery(
    plugins_dir, qgis_iface, qgis_new_project, settings_reset
):
    """qgis.utils.loadPlugin/startPlugin: classFactory(iface) and initGui() as in QGIS."""
    import qgis.utils
    from qgis.core import QgsApplication

    if str(plugins_dir) not in sys.path:
        sys.path.insert(0, str(plugins_dir))
    assert qgis.utils.loadPlugin("roadseg_qgis")
    assert qgis.utils.startPlugin("roadseg_qgis")
    try:
        plugin = qgis.utils.plugins["roadseg_qgis"]
        act = plugin.actions["map_roads"]
        assert act.text() == "Map roads" and not act.icon().isNull()
        assert QgsApplication.processingRegistry().providerById("roadseg") is not None
    finally:
        assert qgis.utils.unloadPlugin("roadseg_qgis")
    assert QgsApplication.processingRegistry().providerById("roadseg") is None


def test_toolbar_and_menu_actions(
    plugin_pkg, qgis_iface, qgis_new_project, settings_reset, monkeypatch
):
    """initGui puts "Map roads" on a toolbar and in the plugin menu; unload removes them."""
    from qgis.PyQt.QtWidgets import QToolBar

    toolbar = QToolBar("Plugins")
    menus: dict[str, list] = {}
    monkeypatch.setattr(qgis_iface, "addToolBarIcon", toolbar.addAction, raising=False)
    monkeypatch.setattr(qgis_iface, "removeToolBarIcon", toolbar.removeAction, raising=False)
    monkeypatch.setattr(
        qgis_iface, "addPluginToMenu", lambda m, a: menus.setdefault(m, []).append(a), raising=False
    )
    monkeypatch.setattr(
        qgis_iface, "removePluginMenu", lambda m, a: menus[m].remove(a), raising=False
    )
    plugin = plugin_pkg.classFactory(qgis_iface)
    plugin.initGui()
    try:
        assert [a.text() for a in toolbar.actions()] == ["Map roads", "Adapt model…"]
        act = toolbar.actions()[0]
        assert act.objectName() == "roadsegMapRoads" and not act.icon().isNull()
        assert [a.text() for a in menus["&roadseg"]] == [
            "Map roads",
            "Adapt model…",
            "Retrain from corrections…",
            "Settings…",
        ]
        ids = {a.id() for a in plugin.provider.algorithms()}
        assert ids == {
            "roadseg:segmentroads",
            "roadseg:vectorizeroads",
            "roadseg:trainmodel",
            "roadseg:adaptmodel",
            "roadseg:checkfit",
        }
    finally:
        plugin.unload()
    assert toolbar.actions() == [] and menus["&roadseg"] == []


def test_licence_is_mit_as_pyproject_says():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"} and _metadata()["general"]["license"] == "MIT"
    assert (REPO / "LICENSE").read_text().startswith("MIT License")


def test_package_script_refuses_a_missing_licence(tmp_path):
    import shutil

    import package_plugin

    fake = tmp_path / "repo"
    shutil.copytree(
        REPO / "qgis_plugin", fake / "qgis_plugin", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(REPO / "engine" / "roadseg", fake / "engine" / "roadseg", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.safetensors"))  # fmt: skip
    shutil.copy(REPO / "metadata.txt", fake / "metadata.txt")
    with pytest.raises(package_plugin.PackagingError, match="LICENSE is missing"):
        package_plugin.build(tmp_path / "dist", repo=fake)
