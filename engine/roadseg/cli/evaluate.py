"""``roadseg evaluate PREDICTION --truth LABELS``: pixel, relaxed and APLS metrics + a report."""

from __future__ import annotations

from pathlib import Path

import click

from roadseg.cli.options import (
    ProgressRenderer,
    emit_json,
    interrupt_as_cancel,
    json_option,
    overwrite_option,
    progress_option,
)
from roadseg.cli.paths import RASTER_PATH
from roadseg.geo.paths import RasterPath


@click.command("evaluate")
@click.argument("prediction", type=RASTER_PATH)
@click.option(
    "--truth",
    required=True,
    type=click.Path(path_type=Path),
    help="Truth: road vectors (GeoPackage/GeoJSON/Shapefile) or a class raster / mask.",
)
@click.option(
    "--class-field", default=None, help="Attribute of the truth vectors holding the class."
)
@click.option(
    "--scheme",
    default=None,
    help="Class scheme of the truth vectors (synth, spacenet, osm, roads3, binary) "
    "[default: from the attributes].",
)
@click.option(
    "--buffer",
    "buffer_m",
    type=float,
    default=2.0,
    show_default=True,
    help="Tolerance of the relaxed precision/recall, metres.",
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Report folder [default: <prediction>_eval beside the prediction].",
)
@click.option("--no-apls", is_flag=True, help="Skip the centreline graphs and APLS.")
@click.option(
    "--apls-snap",
    "apls_snap_m",
    type=float,
    default=4.0,
    show_default=True,
    help="APLS: largest distance from a control point to the other graph, metres.",
)
@click.option(
    "--apls-definition",
    type=click.Choice(["cosmiq", "roadseg"]),
    default="cosmiq",
    show_default=True,
    help="APLS as CosmiQ's reference code computes it (comparable with SpaceNet figures), or "
    "roadseg's stricter variant (control points every 50 m on every edge).",
)
@click.option(
    "--gsd",
    type=float,
    default=None,
    help="Pixel size in metres of a prediction without georeferencing (a plain image's).",
)
@click.option("--mask-colors", metavar="MAP", help="Colour-coded truth mask: '110,193,228=road'.")
@click.option(
    "--mask-values", metavar="MAP", help="Truth mask values: '0=background,1=road,255=ignore'."
)
@click.option(
    "--mask-threshold", type=float, metavar="T", help="Soft truth mask: values >= T are road."
)
@overwrite_option
@progress_option
@json_option
def cli(
    prediction: RasterPath,
    truth: Path,
    class_field: str | None,
    scheme: str | None,
    buffer_m: float,
    out_dir: Path | None,
    no_apls: bool,
    apls_snap_m: float,
    apls_definition: str,
    gsd: float | None,
    mask_colors: str | None,
    mask_values: str | None,
    mask_threshold: float | None,
    overwrite: bool,
    progress: str,
    as_json: bool,
) -> None:
    """Evaluate PREDICTION (a class raster) against truth labels; write a report."""
    from roadseg.evaluation import evaluate

    with ProgressRenderer(progress) as renderer, interrupt_as_cancel() as cancel:
        res = evaluate(
            prediction,
            truth,
            class_field=class_field,
            scheme=scheme,
            buffer_m=buffer_m,
            out_dir=out_dir,
            graph_metrics=not no_apls,
            apls_snap_m=apls_snap_m,
            apls_definition=apls_definition,
            gsd=gsd,
            mask_colors=mask_colors,
            mask_values=mask_values,
            mask_threshold=mask_threshold,
            overwrite=overwrite,
            progress=renderer,
            cancel=cancel,
        )
    if as_json:
        emit_json(res.as_dict())
        return
    m = res.as_dict()["metrics"]

    def f(v: float | None) -> str:
        return "–" if v is None else f"{v:.4f}"

    click.echo(f"report in {res.files['report'].parent}")
    click.echo(f"  classes      {m['mode']}: {', '.join(m['classes'])}")
    for name, c in m["per_class"].items():
        click.echo(
            f"  {name:<12} IoU {f(c['iou'])}  F1 {f(c['f1'])}  "
            f"P {f(c['precision'])}  R {f(c['recall'])}"
        )
    click.echo(
        f"  mIoU         {f(m['miou'])} (roads {f(m['miou_roads'])}), "
        f"pixel accuracy {f(m['pixel_accuracy'])}"
    )
    r = m["relaxed"]
    click.echo(
        f"  relaxed      P {f(r['precision'])}  R {f(r['recall'])}  F1 {f(r['f1'])} "
        f"(±{r['buffer_m']} m)"
    )
    if m["apls"]:
        a = m["apls"]
        click.echo(
            f"  APLS         {f(a['apls'])} ({a['definition']}; truth→prediction "
            f"{f(a['truth_to_pred'])}, prediction→truth {f(a['pred_to_truth'])})"
        )
    if m.get("topo"):
        t = m["topo"]
        click.echo(f"  TOPO         F1 {f(t['f1'])} (P {f(t['precision'])}  R {f(t['recall'])})")
