"""*Test engine*: check that a command is a working roadseg engine this plugin can use.

Four steps, stopping at the first failure, each with a message that says what to do:

1. the program says it is roadseg (``--version`` prints ``roadseg, version X`` and
   ``models --json`` answers with the model list): ``python`` or ``/bin/true`` fail here;
2. its version is in the plugin's compatible range (:data:`engine.ENGINE_MIN_VERSION`
   to :data:`engine.ENGINE_BELOW_VERSION`);
3. the model loads (``models --info MODEL --json``);
4. a 64 px prediction with vectorisation runs on a tiny raster the plugin writes itself
   (its device tells which device ``auto`` reaches on this machine); then the engine lists
   every device it can use here (``devices --json``), so the Map roads dialog offers a GPU
   before any run has used one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .commands import (
    MACHINE_OPTIONS,
    devices_argv,
    display,
    model_info_argv,
    models_argv,
    version_argv,
)
from .engine import EngineCommand, compatible, compatible_range, parse_identity
from .errors import EngineNotFoundError
from .i18n import tr
from .process import EngineResult, run_engine

#: Side of the test raster in pixels.
TEST_SIZE_PX = 64
STEP_COUNT = 4

#: Writes the test raster: (path, bands, pixel size in metres) → a georeferenced GeoTIFF.
RasterWriter = Callable[[Path, int, float], None]


@dataclass(frozen=True)
class EngineDevice:
    """A device the engine can use: its name (``cpu``, ``cuda:0``, ``mps``) and label."""

    name: str
    label: str

    @property
    def family(self) -> str:
        """``cuda:0`` → ``cuda``."""
        return self.name.split(":", 1)[0]


def parse_devices(result: Mapping[str, Any] | None) -> tuple[EngineDevice, ...]:
    """The devices of a ``devices --json`` answer (nothing for an answer of another shape).

    >>> parse_devices({"devices": [{"name": "cuda:0", "label": "NVIDIA H200"}, {"x": 1}]})
    (EngineDevice(name='cuda:0', label='NVIDIA H200'),)
    >>> parse_devices({"models": []}), parse_devices(None)
    ((), ())
    """
    listed = (result or {}).get("devices")
    if not isinstance(listed, list):
        return ()
    return tuple(
        EngineDevice(str(d["name"]), str(d.get("label") or d["name"]))
        for d in listed
        if isinstance(d, dict) and isinstance(d.get("name"), str)
    )


def engine_devices(
    engine: EngineCommand,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 120.0,
    is_cancelled: Callable[[], bool] | None = None,
) -> tuple[EngineDevice, ...]:
    """The devices ``engine`` can use on this machine (empty if it cannot say)."""
    try:
        res = run_engine(
            devices_argv(engine.argv), env=env, timeout_s=timeout_s, is_cancelled=is_cancelled
        )
    except EngineNotFoundError:
        return ()
    return parse_devices(res.result) if res.ok else ()


@dataclass(frozen=True)
class CheckStep:
    """One step of the check: its title, whether it passed, and what it found or what to do."""

    title: str
    ok: bool
    text: str


@dataclass(frozen=True)
class CheckReport:
    """The outcome of :func:`check_engine`.

    Attributes:
        command: The engine command checked.
        steps: The steps run (the last one failed unless all passed).
        version: The engine's version (None if it is not roadseg).
        device: The device ``--device auto`` used in the test prediction.
        devices: The devices the engine lists (:func:`engine_devices`; empty when it
            could not say).
        details: The failing command's output (empty on success).

    """

    command: str
    steps: tuple[CheckStep, ...]
    version: str | None = None
    device: str | None = None
    devices: tuple[EngineDevice, ...] = ()
    details: str = ""

    @property
    def ok(self) -> bool:
        """Whether every step passed."""
        return len(self.steps) == STEP_COUNT and all(s.ok for s in self.steps)

    def text(self) -> str:
        """The full report, one line per step (shown in full in the settings dialog).

        >>> r = CheckReport("roadseg", (CheckStep("Is it roadseg?", False, "No."),))
        >>> print(r.text())
        Engine: roadseg
        ✘ Is it roadseg? No.
        """
        lines = [tr("Engine: {command}").format(command=self.command)]
        lines += [f"{'✔' if s.ok else '✘'} {s.title} {s.text}" for s in self.steps]
        if self.ok:
            lines.append(tr("The engine works: Map roads is ready."))
        return "\n".join(lines)


def _first_line(res: EngineResult) -> str:
    for text in (res.stdout_tail, res.stderr_tail):
        for line in text.splitlines():
            if line.strip():
                return line.strip()[:200]
    return ""


def _why(res: EngineResult) -> str:
    if res.error is not None:
        return res.error.message
    return _first_line(res) or tr("exit status {code}").format(code=res.returncode)


def check_engine(
    engine: EngineCommand,
    model: str,
    workdir: Path,
    write_raster: RasterWriter,
    *,
    env: Mapping[str, str] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
    on_step: Callable[[int, str], None] | None = None,
    timeout_s: float = 300.0,
) -> CheckReport:
    """Run the four checks of *Test engine* (see the module docstring).

    Args:
        engine: The command to check.
        model: The model to load and predict with (``default`` or a model file).
        workdir: An empty folder for the test raster and outputs.
        write_raster: Writes the test raster (the plugin uses GDAL from QGIS).
        env: The engine's environment.
        is_cancelled: Polled while a command runs; True stops it.
        on_step: Called with (step number from 1, title) as each step starts.
        timeout_s: Limit for each command.

    """
    steps: list[CheckStep] = []
    cmd = engine.text

    def run(argv: list[str], limit: float = timeout_s) -> EngineResult:
        return run_engine(argv, env=env, is_cancelled=is_cancelled, timeout_s=limit)

    def start(n: int, title: str) -> str:
        if on_step is not None:
            on_step(n, title)
        return title

    def fail(title: str, text: str, res: EngineResult | None = None, **kw: Any) -> CheckReport:
        steps.append(CheckStep(title, False, text))
        return CheckReport(cmd, tuple(steps), details=res.details() if res else "", **kw)

    title = start(1, tr("Is it roadseg?"))
    try:
        res = run(version_argv(engine.argv), 60.0)
    except EngineNotFoundError as exc:
        return fail(title, exc.message)
    version = parse_identity("\n".join((res.stdout_tail, res.stderr_tail)))
    if res.returncode != 0 or version is None:
        answer = _first_line(res)
        return fail(
            title,
            tr(
                "{command} is not the roadseg engine: asked for its version it answered {answer}. "
                "Give the `roadseg` program of the engine's environment (…/bin/roadseg), or press "
                "'Install engine…'."
            ).format(command=cmd, answer=repr(answer) if answer else tr("nothing")),
            res,
        )
    listing = run(models_argv(engine.argv), 120.0)
    if not isinstance((listing.result or {}).get("models"), list):
        return fail(
            title,
            tr(
                "{command} calls itself roadseg {version}, but `roadseg models --json` did not "
                "list its models ({why}). Reinstall the engine with 'Install engine…'."
            ).format(command=cmd, version=version, why=_why(listing)),
            listing,
            version=version,
        )
    steps.append(
        CheckStep(
            title,
            True,
            tr("Yes: roadseg {version}, found in {source}.").format(
                version=version, source=engine.source
            ),
        )
    )

    title = start(2, tr("Compatible version?"))
    if not compatible(version):
        return fail(
            title,
            tr(
                "No: this plugin needs roadseg {range}, the engine is {version}. Install a "
                "matching engine with 'Install engine…', or a plugin version made for roadseg "
                "{version}."
            ).format(range=compatible_range(), version=version),
            version=version,
        )
    steps.append(
        CheckStep(
            title,
            True,
            tr("Yes: the plugin works with roadseg {range}.").format(range=compatible_range()),
        )
    )

    title = start(3, tr("Does the model load?"))
    info_res = run(model_info_argv(engine.argv, model))
    info = info_res.result if info_res.ok else None
    if not info or not isinstance(info.get("classes"), list):
        return fail(
            title,
            tr(
                "No: the model {model} does not load ({why}). Choose another model file in Map "
                "roads, or reinstall the engine with 'Install engine…' to restore its embedded "
                "default model."
            ).format(model=repr(model), why=_why(info_res)),
            info_res,
            version=version,
        )
    gsd = float(info.get("gsd_m") or 0.5)
    bands = int(info.get("in_channels") or 3)
    steps.append(
        CheckStep(
            title,
            True,
            tr("Yes: {model} has the classes {classes} at {gsd} m/px.").format(
                model=repr(model), classes=", ".join(str(c) for c in info["classes"][1:]), gsd=gsd
            ),
        )
    )

    title = start(4, tr("Does a {size} px prediction run?").format(size=TEST_SIZE_PX))
    raster = workdir / "roadseg-test.tif"
    try:
        write_raster(raster, bands, gsd)
    except Exception as exc:  # noqa: BLE001 - GDAL errors of any kind end the check clearly
        return fail(
            title,
            tr("No: the plugin could not write its test raster in {folder} ({reason}).").format(
                folder=str(workdir), reason=exc
            ),
            version=version,
        )
    argv = [
        *engine.argv,
        "predict",
        str(raster),
        "--model",
        model,
        "--out",
        str(workdir / "classes.tif"),
        "--vectorize",
        str(workdir / "roads.gpkg"),
        *MACHINE_OPTIONS,
    ]
    pred = run(argv)
    if not pred.ok or not (workdir / "classes.tif").is_file():
        return fail(
            title,
            tr(
                "No: {why}. The roadseg log panel has the engine's output; run this command in "
                "a terminal to see it: {command}"
            ).format(why=pred.message(), command=display(argv)),
            pred,
            version=version,
        )
    result = pred.result or {}
    device = str(result.get("device") or "cpu")
    devices = engine_devices(engine, env, timeout_s, is_cancelled)
    text = tr("Yes: in {seconds:.1f} s on {device} ({precision}).").format(
        seconds=pred.seconds, device=device, precision=result.get("precision") or "?"
    )
    if devices:
        text += " " + tr("Devices: {devices}.").format(
            devices="; ".join(f"{d.name} ({d.label})" for d in devices)
        )
    steps.append(CheckStep(title, True, text))
    return CheckReport(cmd, tuple(steps), version=version, device=device, devices=devices)
