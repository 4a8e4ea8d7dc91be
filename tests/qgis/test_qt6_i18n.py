"""Ready for QGIS 4 / Qt6 and for translations: a scan of the plugin's sources, and tr() at work.

QGIS 4 runs on PyQt6, which has no ``exec_()`` and only scoped enums
(``QDialogButtonBox.StandardButton.Ok``, not ``QDialogButtonBox.Ok``). The scan
resolves each ``Class.Member`` of the sources against QGIS 3.22 / PyQt5 and flags
members of an enum nested in the class.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.qgis

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

#: Widget constructors / methods whose text argument the user reads.
TEXT_CONSTRUCTORS = {"QLabel", "QCheckBox", "QGroupBox", "QPushButton", "QRadioButton", "QAction"}
TEXT_METHODS = {
    "setText",
    "setToolTip",
    "setWindowTitle",
    "setPlaceholderText",
    "setSpecialValueText",
    "setDialogTitle",
    "addItem",
    "insertItem",
    "addRow",
    "setStatusTip",
    "setProgressText",
}
NOT_WORDS = {" px", " km²", "roadseg", "auto", "cpu"}


def _namespaces():
    from qgis import core, gui
    from qgis.PyQt import QtCore, QtGui, QtWidgets

    return (core, gui, QtCore, QtGui, QtWidgets)


def unscoped_enums(source: str, name: str = "<src>") -> list[str]:
    """``Class.Member`` uses whose member belongs to an enum nested in ``Class``."""
    found = []
    spaces = _namespaces()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
            continue
        cls = next(
            (getattr(ns, node.value.id) for ns in spaces if hasattr(ns, node.value.id)), None
        )
        if not isinstance(cls, type):
            continue
        value = getattr(cls, node.attr, None)
        kind = type(value)
        if (
            isinstance(value, int)
            and kind not in (int, bool)
            and getattr(cls, kind.__name__, None) is kind
        ):
            found.append(
                f"{name}:{node.lineno}: {node.value.id}.{node.attr} → "
                f"{node.value.id}.{kind.__name__}.{node.attr}"
            )
    return found


def untranslated(source: str, name: str = "<src>") -> list[str]:
    """User-visible string literals that do not go through tr()."""

    def words(arg: ast.expr) -> bool:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if arg.value.startswith(("http", "--")):  # an address or options: not language
                return False
            return any(c.isalpha() for c in arg.value) and arg.value not in NOT_WORDS
        if isinstance(arg, ast.JoinedStr):
            return any(
                isinstance(v, ast.Constant) and any(c.isalpha() for c in v.value)
                for v in arg.values
            )
        return False

    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        args: list[ast.expr] = []
        if fname in TEXT_CONSTRUCTORS or fname in TEXT_METHODS:
            args = node.args[:1]
        elif fname.startswith(("QgsProcessingParameter", "QgsProcessingOutput")):
            args = node.args[1:2]
        found += [f"{name}:{node.lineno}: {fname}({ast.unparse(a)[:50]})" for a in args if words(a)]
    return found


def _sources():
    return sorted((REPO / "qgis_plugin").rglob("*.py"))


def test_the_scanners_catch_what_they_look_for(qgis_app):
    bad = "from x import y\nb = QDialogButtonBox(QDialogButtonBox.Ok)\nt = QgsTask.CanCancel\n"
    assert len(unscoped_enums(bad)) == 2
    good = "b = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)\n"
    assert unscoped_enums(good) == []
    assert unscoped_enums("x = Qgis.Info\n")
    assert not unscoped_enums("x = Qgis.MessageLevel.Info\n")
    assert untranslated('QLabel("Hello")\nw.setToolTip(f"Size {n}")\n')
    assert not untranslated('QLabel(tr("Hello"))\nw.setSuffix(" px")\n')


def test_no_exec_underscore_and_no_unscoped_enums(qgis_app):
    problems = []
    for py in _sources():
        text = py.read_text(encoding="utf-8")
        rel = py.relative_to(REPO).as_posix()
        problems += [f"{rel}: exec_(" for line in text.splitlines() if "exec_(" in line]
        problems += unscoped_enums(text, rel)
    assert not problems, "\n".join(problems)


def test_every_visible_text_goes_through_tr(qgis_app):
    problems = []
    for py in _sources():
        problems += untranslated(py.read_text(encoding="utf-8"), py.relative_to(REPO).as_posix())
    assert not problems, "\n".join(problems)


def test_translation_template_collects_the_texts():
    import i18n_template

    texts = {t for t, _f, _l in i18n_template.collect()}
    assert {"Map roads", "Run", "Test engine", "Segment roads", "Is it roadseg?"} <= texts
    assert len(texts) > 150


def test_a_translator_translates_the_dialog(plugin, qgis_iface, real_engine, utm_raster):
    """Every text goes through QCoreApplication.translate with the context 'roadseg'."""
    import re

    from qgis.PyQt.QtCore import QCoreApplication, QTranslator
    from qgis_helpers import add_raster, choose

    class Shouting(QTranslator):  # upper case, {placeholders} kept as translators must
        def translate(self, context, source, disambiguation=None, n=-1):  # noqa: ANN001, ANN201
            if context != "roadseg":
                return None
            return re.sub(r"[^{}]+(?=\{|$)", lambda m: m.group().upper(), source)

    add_raster(utm_raster)
    shouting = Shouting()
    QCoreApplication.installTranslator(shouting)
    try:
        dlg = plugin.create_dialog(fetch_models=False)
        assert dlg.windowTitle() == "MAP ROADS" and dlg.run_button.text() == "RUN"
        assert dlg.area_combo.itemText(0) == "CURRENT MAP EXTENT"
        choose(dlg.area_combo, "selection")
        assert (
            dlg.error_label.text().startswith("CHOOSE") or "NO POLYGONS" in dlg.error_label.text()
        )
    finally:
        QCoreApplication.removeTranslator(shouting)


@pytest.mark.skipif(shutil.which("lrelease") is None, reason="lrelease (Qt tools) not installed")
def test_a_compiled_translation_is_loaded(plugin_pkg, tmp_path, qgis_app):
    """i18n_template → .ts → lrelease → .qm, loaded the way the plugin loads it."""
    import xml.etree.ElementTree as ET

    import i18n_template
    from qgis.PyQt.QtCore import QCoreApplication
    from roadseg_qgis.core.i18n import tr

    assert i18n_template.main(["xx", "--out-dir", str(tmp_path)]) == 0
    ts = tmp_path / "roadseg_xx.ts"
    tree = ET.parse(ts)
    for msg in tree.getroot().iter("message"):
        if msg.findtext("source") == "Map roads":
            translation = msg.find("translation")
            translation.text = "Straßen kartieren"
            del translation.attrib["type"]
    tree.write(ts, encoding="utf-8")
    subprocess.run(["lrelease", str(ts)], check=True, capture_output=True)
    translator = plugin_pkg.load_translation(tmp_path, "xx_XX")
    assert translator is not None
    QCoreApplication.installTranslator(translator)
    try:
        assert tr("Map roads") == "Straßen kartieren" and tr("Run") == "Run"
    finally:
        QCoreApplication.removeTranslator(translator)
