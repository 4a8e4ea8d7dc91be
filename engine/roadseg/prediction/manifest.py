"""The manifest of a blocked prediction: what was asked, and which blocks are finished.

``<out>/roadseg-manifest.json`` records the *run key* (engine version, the model's
SHA-256, every option that changes the pixels) and, per input raster, its identity
(path, size, modification time, output grid) and the blocks finished so far (files,
seconds, tiles). It is written atomically with a run's first finished block and at
its end; each block finished in between is *appended* as one JSON line to
``roadseg-manifest.journal`` (a block's cost does not grow with the blocks before
it), and the journal is folded into the manifest (then removed) whenever it holds
more lines than the manifest has blocks, so recording N blocks costs O(N). A run
killed at any moment — driver or worker — leaves a manifest and journal that list
only blocks whose files are complete (a line cut short by the kill has no newline
and is ignored). Running the same command again does only the missing blocks; a
different model, option or input raster is
refused (results are never mixed) unless ``overwrite`` is given, which starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roadseg.errors import ConfigError, OutputError
from roadseg.geo.atomic import atomic_output

#: File name of the manifest in the output folder.
MANIFEST = "roadseg-manifest.json"
#: Blocks finished since the manifest was last written, one JSON line each.
JOURNAL = "roadseg-manifest.journal"
#: The journal is folded into the manifest beyond this many lines (or the manifest's blocks).
JOURNAL_MIN_LINES = 64
#: Journal kinds → :class:`RasterEntry` attributes.
KINDS = ("blocks", "vector_blocks")
FORMAT = "roadseg-blocks"
VERSION = 1


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def raster_identity(path: Path) -> dict[str, Any]:
    """What identifies an input raster between runs: absolute path, size, modification time."""
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Keys whose values differ, as ``key: old → new``.

    >>> _differences({"tile": 256, "tta": False}, {"tile": 512, "tta": False})
    ['tile: 256 → 512']
    """
    out = []
    for k in sorted(set(old) | set(new)):
        if old.get(k) != new.get(k):
            a, b = json.dumps(old.get(k)), json.dumps(new.get(k))
            out.append(f"{k}: {a[:24]} → {b[:24]}")
    return out


@dataclass
class RasterEntry:
    """One input raster of a blocked run.

    Attributes:
        identity: Path, size, modification time and output grid.
        blocks: Finished prediction blocks: name → record (files, seconds, tiles).
        vector_blocks: Finished vectorisation blocks: name → record.

    """

    identity: dict[str, Any]
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)
    vector_blocks: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Manifest:
    """The state of a blocked prediction in its output folder.

    Attributes:
        path: The manifest file.
        key: The run key (see the module docstring).
        vector_key: What the vector blocks depend on (vectorising options).
        rasters: Per input raster (by output stem).
        complete: Every output was written.
        outputs: The final outputs, once complete.

    """

    path: Path
    key: dict[str, Any]
    vector_key: dict[str, Any] = field(default_factory=dict)
    rasters: dict[str, RasterEntry] = field(default_factory=dict)
    complete: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)
    _journal_lines: int = 0
    _saved_blocks: int = 0
    _saved: bool = False

    @property
    def journal(self) -> Path:
        """The journal file beside the manifest."""
        return self.path.with_name(JOURNAL)

    @classmethod
    def open(
        cls, folder: Path, key: dict[str, Any], vector_key: dict[str, Any], overwrite: bool
    ) -> tuple[Manifest, bool]:
        """The manifest of ``folder`` for a run with ``key``; (manifest, resumed).

        Raises:
            ConfigError: The folder holds another run's blocks and ``overwrite`` is False.

        """
        path = folder / MANIFEST
        if overwrite or not path.exists():
            return cls(path, key, vector_key), False
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                raise ValueError("not a roadseg manifest")
            if int(raw.get("version", 0)) > VERSION:
                raise ValueError("a manifest of a newer roadseg")
            entries = {
                stem: RasterEntry(
                    r["identity"], dict(r.get("blocks", {})), dict(r.get("vector_blocks", {}))
                )
                for stem, r in dict(raw.get("rasters", {})).items()
            }
            replay_journal(folder / JOURNAL, entries)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"`out` {str(folder)!r} holds an unreadable manifest {MANIFEST} ({exc})",
                param="out",
                value=str(folder),
                hint="give `overwrite` to start again, or choose another `out`",
            ) from None
        diff = _differences(raw.get("key", {}), key)
        if diff:
            raise ConfigError(
                f"`out` {str(folder)!r} holds blocks of another run ({'; '.join(diff[:3])}); "
                "results are never mixed",
                param="out",
                value=str(folder),
                hint="rerun with the same model and options to resume, give `overwrite` to "
                "start again, or choose another `out`",
            )
        m = cls(path, key, vector_key)
        same_vectors = raw.get("vector_key", {}) == vector_key
        for stem, entry in entries.items():
            m.rasters[stem] = entry
            if not same_vectors:
                m.rasters[stem].vector_blocks.clear()
        return m, True

    def entry(self, stem: str, identity: dict[str, Any], overwrite: bool) -> RasterEntry:
        """The entry of one input raster (refusing a changed raster unless ``overwrite``)."""
        old = self.rasters.get(stem)
        if old is not None and old.identity != identity:
            if not overwrite:
                diff = _differences(old.identity, identity)
                raise ConfigError(
                    f"`out` holds blocks of {stem!r} made from another input "
                    f"({'; '.join(diff[:3])}); results are never mixed",
                    param="out",
                    value=identity.get("path"),
                    hint="give `overwrite` to predict it again, or choose another `out`",
                )
            old = None
        if old is None:
            old = self.rasters[stem] = RasterEntry(identity)
        return old

    def record(self, stem: str, kind: str, name: str, record: dict[str, Any]) -> None:
        """Record a finished block of raster ``stem`` (``kind``: one of :data:`KINDS`).

        Appended to the journal; the manifest is rewritten when the journal grows longer
        than :data:`JOURNAL_MIN_LINES` and the blocks the manifest already lists.
        """
        getattr(self.rasters[stem], kind)[name] = record
        if not self._saved:  # the first of this run: this run's key, the old journal folded in
            self.save()
            return
        line = json.dumps({"raster": stem, "kind": kind, "name": name, "record": record})
        try:
            with open(self.journal, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:
            raise OutputError(
                f"cannot write {str(self.journal)!r} ({exc})",
                param="out",
                value=str(self.journal),
            ) from None
        self._journal_lines += 1
        if self._journal_lines > max(JOURNAL_MIN_LINES, self._saved_blocks):
            self.save()

    def save(self) -> None:
        """Write the manifest atomically (with every recorded block); remove the journal."""
        data = {
            "format": FORMAT,
            "version": VERSION,
            "key": self.key,
            "vector_key": self.vector_key,
            "complete": self.complete,
            "outputs": self.outputs,
            "rasters": {
                stem: {
                    "identity": e.identity,
                    "blocks": e.blocks,
                    "vector_blocks": e.vector_blocks,
                }
                for stem, e in self.rasters.items()
            },
        }
        try:
            with atomic_output(self.path) as tmp:
                tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            # Killed here, the journal's lines are in the manifest too: replaying them is harmless.
            self.journal.unlink(missing_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot write {str(self.path)!r} ({exc})", param="out", value=str(self.path)
            ) from None
        self._journal_lines, self._saved = 0, True
        self._saved_blocks = sum(len(getattr(e, k)) for e in self.rasters.values() for k in KINDS)


def replay_journal(path: Path, entries: dict[str, RasterEntry]) -> int:
    """Apply a journal's complete lines to ``entries`` (by raster stem); return how many.

    The last line may have been cut short by a kill (no newline): it is ignored, and so
    is a line of a raster the manifest does not list.

    Raises:
        ValueError: A complete line is not a journal record.

    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0
    lines = text.split("\n")[:-1]
    for line in lines:
        rec = json.loads(line)
        if rec["kind"] not in KINDS:
            raise ValueError(f"{path.name}: unknown kind {rec['kind']!r}")
        entry = entries.get(rec["raster"])
        if entry is not None:
            getattr(entry, rec["kind"])[rec["name"]] = dict(rec["record"])
    return len(lines)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of ``folder`` as JSON, with its journal applied (``{}`` when there is none).

    For tools and tests that watch a run; a run itself uses :meth:`Manifest.open`.
    """
    try:
        raw: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    entries = {
        stem: RasterEntry(r["identity"], r.get("blocks", {}), r.get("vector_blocks", {}))
        for stem, r in raw.get("rasters", {}).items()
    }
    replay_journal(folder / JOURNAL, entries)
    for stem, e in entries.items():
        raw["rasters"][stem].update(blocks=e.blocks, vector_blocks=e.vector_blocks)
    return raw
