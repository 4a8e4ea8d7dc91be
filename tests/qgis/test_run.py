"""Failure injection for Map roads runs (the fake engine): failures, crashes, cancel, kill.

The fake engine (tests/qgis/fake_engine.py) honours the CLI contract and can be made
slow, failing or crashing on demand, which the real engine cannot; every normal run
is tested with the real engine (test_contract.py, test_real_engine.py).
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
from qgis_helpers import (
    FAKE_ENGINE,
    add_raster,
    choose,
    messages,
    process_alive,
    project_layers,
    run_to_end,
    set_canvas,
    wait_until,
    write_xyz_tiles,
    xyz_layer,
)

pytestmark = pytest.mark.qgis


def _params(plugin, raster_path, out_dir, area="layer", class_raster=False):
    layer = add_raster(raster_path)
    dlg = plugin.create_dialog(fetch_models=False)
    dlg.raster_combo.setLayer(layer)
    choose(dlg.area_combo, area)
    dlg.raster_check.setChecked(class_raster)
    dlg.output_widget.setFilePath(str(out_dir))
    return dlg.parameters()


class LogCapture:
    """Collect QgsMessageLog messages of the roadseg tag."""

    def __init__(self) -> None:
        from qgis.core import QgsApplication

        self.items: list[tuple[str, int]] = []
        self._log = QgsApplication.messageLog()
        self._log.messageReceived.connect(self._on)

    def _on(self, message, tag, level) -> None:  # noqa: ANN001
        if tag == "roadseg":
            self.items.append((message, int(level)))

    def close(self) -> None:
        self._log.messageReceived.disconnect(self._on)


@pytest.fixture
def log_capture():
    cap = LogCapture()
    yield cap
    cap.close()


def test_cancel_is_reported_as_cancelled_and_leaves_nothing(
    plugin, qgis_iface, fake_engine, utm_raster, tmp_path
):
    from qgis.core import QgsTask

    out = tmp_path / "out"
    params = _params(plugin, utm_raster, out)
    n_layers = len(project_layers())
    fake_engine.mode("slow")
    task = plugin.start(params)
    statuses = []
    task.statusChanged.connect(statuses.append)
    assert wait_until(lambda: task.progress() > 5, 30), "no progress from the engine"
    assert list(out.glob(".roadseg-partial-*/*")), "the engine writes into the staging folder"
    task.cancel()
    run_to_end(plugin, task, 30)
    assert task.cancelled and task.result is not None and task.result.cancelled
    # QGIS says "Task failed" for a terminated task: a cancelled run ends as completed.
    assert task.status() == QgsTask.TaskStatus.Complete
    assert QgsTask.TaskStatus.Terminated not in statuses
    assert len(project_layers()) == n_layers and list(out.iterdir()) == []
    assert any("cancelled" in m for m in messages(qgis_iface, "info"))
    assert not messages(qgis_iface, "critical")


def test_bar_never_steps_back_after_rendering_a_web_layer(
    plugin, qgis_iface, fake_engine, utm_raster, tmp_path
):
    """The rendering of an XYZ layer fills the start of the bar; the engine's first line
    (setup, 0 %) must not move it back."""
    from qgis.core import (
        QgsApplication,
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsProject,
        QgsRasterLayer,
    )

    tiles = tmp_path / "tiles"
    assert write_xyz_tiles(utm_raster, tiles, 18) >= 1
    layer = xyz_layer(tiles, zmax=18)
    image = QgsRasterLayer(str(utm_raster), "image")
    rect = QgsCoordinateTransform(
        image.crs(), QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance()
    ).transformBoundingBox(image.extent())
    del image
    set_canvas(qgis_iface, layer, extent=rect)
    dlg = plugin.create_dialog(fetch_models=True)
    assert dlg.raster_combo.currentLayer() is layer
    assert dlg.loader.wait(60000) and wait_until(lambda: "default" in dlg.model_infos, 10)
    choose(dlg.area_combo, "canvas")
    dlg.output_widget.setFilePath(str(tmp_path / "out"))
    params = dlg.parameters()
    assert dlg.render_job is not None and params.raster_path == str(dlg.render_job.path)
    # The task manager relays every progress of the task (connected before the task starts).
    bar: dict[int, list[float]] = {}
    manager = QgsApplication.taskManager()
    record = lambda tid, p: bar.setdefault(tid, []).append(p)  # noqa: E731
    manager.progressChanged.connect(record)
    try:
        task = plugin.start(params, dlg.current_model_info(), dlg.render_job)
        tid = manager.taskId(task)
        run_to_end(plugin, task)
    finally:
        manager.progressChanged.disconnect(record)
    assert task.error is None and task.result.ok, task.result.details()
    assert not dlg.render_job.path.parent.exists()
    seen = bar[tid]
    assert seen[0] == 5.0, seen  # the rendering's share
    assert seen == sorted(seen) and seen[-1] > 90, seen


def test_engine_failure_in_message_bar_and_log(
    plugin, qgis_iface, fake_engine, utm_raster, tmp_path, log_capture
):
    from qgis.core import Qgis

    out = tmp_path / "out"
    params = _params(plugin, utm_raster, out)
    n_layers = len(project_layers())
    fake_engine.mode("fail")
    task = plugin.start(params)
    run_to_end(plugin, task)
    crit = messages(qgis_iface, "critical")
    assert len(crit) == 1
    assert "roadseg failed (ModelFileError)" in crit[0] and "is damaged" in crit[0]
    details = [m for m, lv in log_capture.items if lv == int(Qgis.MessageLevel.Critical)]
    assert details and "Command:" in details[-1] and "Exit status: 1" in details[-1]
    assert len(project_layers()) == n_layers and list(out.iterdir()) == []


def test_engine_crash_without_json(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    out = tmp_path / "out"
    params = _params(plugin, utm_raster, out)
    fake_engine.mode("crash")
    task = plugin.start(params)
    run_to_end(plugin, task)
    crit = messages(qgis_iface, "critical")
    assert crit and "exit status 3" in crit[-1] and "fake crash" in crit[-1]
    assert list(out.iterdir()) == []


def test_start_with_unwritable_folder(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    import dataclasses

    params = _params(plugin, utm_raster, tmp_path / "out")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert plugin.start(dataclasses.replace(params, output_dir=str(blocker / "sub"))) is None
    warn = messages(qgis_iface, "warning")
    assert warn and "Cannot write to the results folder" in warn[-1]
    assert plugin.tasks == []


def test_no_resource_warning(plugin, qgis_iface, fake_engine, utm_raster, tmp_path):
    """The engine's pipes are closed after each run (no "unclosed file" in the log)."""
    params = _params(plugin, utm_raster, tmp_path / "out")
    fake_engine.mode("fail")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        task = plugin.start(params)
        run_to_end(plugin, task)
        del task
        plugin.finished_tasks.clear()
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


def test_killing_the_parent_stops_the_engine_at_once(tmp_path, utm_raster, plugin_pkg):
    """Kill -9 the process that runs the engine (QGIS, qgis_process): the engine stops too."""
    pid_file = tmp_path / "engine.pid"
    plugins_dir = Path(plugin_pkg.__file__).resolve().parents[1]
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(plugins_dir)!r})
        from roadseg_qgis.core.process import run_engine
        from roadseg_qgis.core.engine import engine_env
        env = dict(engine_env(), FAKE_ROADSEG_MODE="hang", FAKE_ROADSEG_PID={str(pid_file)!r})
        run_engine([sys.executable, {str(FAKE_ENGINE)!r}, "predict", {str(utm_raster)!r},
                    "--out", {str(tmp_path / "x.tif")!r}], env=env)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 30)
        engine_pid = int(pid_file.read_text())
        os.kill(engine_pid, 0)  # running
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        t0 = time.monotonic()
        while process_alive(engine_pid) and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        if process_alive(engine_pid):
            os.kill(engine_pid, signal.SIGKILL)
            pytest.fail("the engine was still running 5 s after its parent was killed")
        assert time.monotonic() - t0 < 2.0
    finally:
        if parent.poll() is None:
            parent.kill()


def test_empty_layers_of_an_older_engine_are_not_added(
    plugin, qgis_iface, fake_engine, utm_raster, tmp_path
):
    """Earlier engines wrote empty road layers (the fake still does): none is added."""
    from qgis.core import QgsProject

    params = _params(plugin, utm_raster, tmp_path / "out")
    task = plugin.start(params)
    run_to_end(plugin, task)
    assert task.result.ok, task.result.details()
    group = QgsProject.instance().layerTreeRoot().findGroup(params.run_name)
    names = [n.layer().name() for n in group.findLayers()]
    assert names == ["centrelines", "major roads", "minor roads"]  # no "track roads"
