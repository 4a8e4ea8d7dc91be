"""Skeleton pixels → graph edges, vectorised (numpy/scipy; no loop over pixels).

Definitions (8-connected skeleton):

* **Adjacency**: two skeleton pixels are neighbours when they share a side, or a
  corner with neither of the two pixels that touch both (so a staircase step is
  one link, not a triangle that would look like a junction).
* **Degree**: number of neighbours. Degree 1 pixels are ends, degree ≥ 3 pixels
  junctions; adjacent end/junction pixels form one *node* (a cluster) placed at
  their centroid and named by the smallest global pixel index in it.
* **Chains**: connected runs of degree-2 pixels. Each becomes one edge between
  the nodes touching its two ends; a closed ring with no node gets a node at its
  first pixel (an edge from that node to itself).

Block processing: a degree-2 pixel on a *seam* (a row or column that is a
multiple of the block step) is made a node of its own (a *cut* node, named by
its global pixel index), so no chain crosses a seam and every chain lies inside
one block's core. A block keeps the chains whose first pixel lies in its core
and the node–node links whose first pixel does, so the union over blocks is the
whole raster's graph with extra cut nodes on the seams (dissolved later).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, depth_first_order


@dataclass(frozen=True)
class BlockEdges:
    """Edges found in one block (metric frame coordinates).

    Attributes:
        u: Start node id per edge (global pixel index of the node).
        v: End node id per edge.
        geoms: LineStrings from node ``u`` to node ``v`` (metric frame).
        counts: Road pixels per class along each edge, shape (E, K).
        wsum: Sum of the road width (metres) over the edge's pixels.
        npix: Number of skeleton pixels along each edge (0 for node–node links).
        cut_ids: Cut nodes (degree-2 seam pixels) owned by the block.
        cut_cls: Class id of each cut node's pixel.
        cut_w: Road width (metres) at each cut node's pixel.

    """

    u: np.ndarray
    v: np.ndarray
    geoms: np.ndarray
    counts: np.ndarray
    wsum: np.ndarray
    npix: np.ndarray
    cut_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cut_cls: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cut_w: np.ndarray = field(default_factory=lambda: np.zeros(0))
    border_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.u.size)

    @staticmethod
    def empty(num_classes: int) -> BlockEdges:
        """No edges."""
        z = np.zeros(0, dtype=np.int64)
        return BlockEdges(
            z, z, np.zeros(0, dtype=object), np.zeros((0, num_classes), np.int64), np.zeros(0), z
        )


@dataclass(frozen=True)
class BlockPlace:
    """Where a block lies in the raster.

    Attributes:
        row0: Global row of the block array's first row.
        col0: Global column of the block array's first column.
        raster_width: Columns of the whole raster (for global pixel indexes).
        core: (row_start, row_stop, col_start, col_stop) of the owned core, local.
        seam_step: Block step in pixels (None: no seams, whole raster at once).

    """

    row0: int
    col0: int
    raster_width: int
    core: tuple[int, int, int, int]
    seam_step: int | None = None


def _pairs(skel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour links as flat (row-major) index pairs, each link once."""
    h, w = skel.shape
    a_list, b_list = [], []
    s = slice(None)

    def add(dy: int, dx: int, extra: np.ndarray | None = None) -> None:
        ya = slice(0, h - dy)
        xa = slice(max(0, -dx), w - max(0, dx))
        yb = slice(dy, h)
        xb = slice(max(0, dx), w - max(0, -dx))
        m = skel[ya, xa] & skel[yb, xb]
        if extra is not None:
            m &= extra
        yy, xx = np.nonzero(m)
        ay, ax = yy, xx + xa.start
        a_list.append(ay * w + ax)
        b_list.append((ay + dy) * w + ax + dx)

    add(0, 1)
    add(1, 0)
    if h > 1 and w > 1:
        # Diagonals only where neither shared side-neighbour is set.
        add(1, 1, ~skel[:-1, 1:] & ~skel[1:, :-1])
        add(1, -1, ~skel[:-1, :-1] & ~skel[1:, 1:])
    del s
    return np.concatenate(a_list), np.concatenate(b_list)


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label per vertex 0..n-1 of the graph with links (a, b)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    g = coo_matrix((np.ones(a.size, dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, lab = connected_components(g, directed=False)
    return lab.astype(np.int64)


def trace_block(
    skel: np.ndarray,
    classes: np.ndarray,
    widths: np.ndarray,
    place: BlockPlace,
    gsd: tuple[float, float],
    num_classes: int,
    edge_px: np.ndarray | None = None,
) -> BlockEdges:
    """Graph edges of a skeleton block (see the module docstring).

    Args:
        skel: Boolean skeleton of the block (margin included).
        classes: Class ids of the block (for each edge's class counts).
        widths: Road width in metres per pixel (see :func:`~roadseg.vectorization.skeleton.width_map`).
        place: Where the block lies and which part of it it owns.
        gsd: Metres per pixel (x, y) of the metric frame.
        num_classes: Classes, background included (class counts have this many columns).
        edge_px: Pixels touching nodata; nodes there are reported in ``border_ids``.

    Returns:
        The edges owned by this block, geometries in the metric frame.

    """
    h, w = skel.shape
    flat = np.flatnonzero(skel)
    n = flat.size
    if n == 0:
        return BlockEdges.empty(num_classes)
    ys, xs = np.divmod(flat, w)
    a_flat, b_flat = _pairs(skel)
    pa = np.searchsorted(flat, a_flat)
    pb = np.searchsorted(flat, b_flat)
    deg = np.bincount(pa, minlength=n) + np.bincount(pb, minlength=n)

    gy_, gx_ = ys + place.row0, xs + place.col0
    gid = gy_.astype(np.int64) * place.raster_width + gx_
    if place.seam_step:
        st = place.seam_step
        seam = ((gy_ % st == 0) & (gy_ > 0)) | ((gx_ % st == 0) & (gx_ > 0))
    else:
        seam = np.zeros(n, dtype=bool)
    cluster = (deg != 2) & (deg > 0)
    cut = (deg == 2) & seam
    chain = (deg == 2) & ~seam

    # Clusters of end/junction pixels → one node each (id: smallest global index).
    both = cluster[pa] & cluster[pb]
    lab = _components(n, pa[both], pb[both])
    big = np.iinfo(np.int64).max
    min_gid = np.full(n, big, dtype=np.int64)
    np.minimum.at(min_gid, lab[cluster], gid[cluster])
    cnt = np.bincount(lab[cluster], minlength=n).astype(float)
    cy = np.bincount(lab[cluster], weights=ys[cluster], minlength=n)
    cx = np.bincount(lab[cluster], weights=xs[cluster], minlength=n)
    node_of = np.full(n, -1, dtype=np.int64)
    node_y = ys.astype(float)
    node_x = xs.astype(float)
    node_of[cluster] = min_gid[lab[cluster]]
    with np.errstate(invalid="ignore", divide="ignore"):
        node_y[cluster] = (cy / cnt)[lab[cluster]]
        node_x[cluster] = (cx / cnt)[lab[cluster]]
    node_of[cut] = gid[cut]

    # Closed rings of degree-2 pixels with no node: make their first pixel a node.
    is_node = node_of >= 0
    cc = chain[pa] & chain[pb]
    clab = _components(n, pa[cc], pb[cc])
    touching = np.zeros(n, dtype=bool)
    ext = (chain[pa] & is_node[pb]) | (chain[pb] & is_node[pa])
    touching[clab[np.where(chain[pa[ext]], pa[ext], pb[ext])]] = True
    ring_px = chain & ~touching[clab]
    if ring_px.any():
        first = np.full(n, n, dtype=np.int64)
        np.minimum.at(first, clab[ring_px], np.flatnonzero(ring_px))
        seeds = np.unique(first[clab[ring_px]])
        chain[seeds] = False
        node_of[seeds] = gid[seeds]
        is_node[seeds] = True
        cc = chain[pa] & chain[pb]
        clab = _components(n, pa[cc], pb[cc])

    mx = (place.col0 + xs + 0.5) * gsd[0]
    my = (place.row0 + ys + 0.5) * gsd[1]
    nmx = (place.col0 + node_x + 0.5) * gsd[0]
    nmy = (place.row0 + node_y + 0.5) * gsd[1]
    r0, r1, c0, c1 = place.core

    def in_core(p: np.ndarray) -> np.ndarray:
        return (ys[p] >= r0) & (ys[p] < r1) & (xs[p] >= c0) & (xs[p] < c1)

    parts: list[BlockEdges] = []
    parts.append(
        _chains(
            chain,
            pa,
            pb,
            cc,
            clab,
            node_of,
            is_node,
            n,
            in_core,
            mx,
            my,
            nmx,
            nmy,
            classes[ys, xs],
            widths[ys, xs],
            num_classes,
        )
    )
    parts.append(_links(pa, pb, node_of, is_node, in_core, nmx, nmy, num_classes))
    out = concat_edges(parts, num_classes)
    border = np.zeros(0, np.int64)
    if edge_px is not None:
        border = np.unique(node_of[is_node & edge_px[ys, xs]])
    # Cut nodes stand for one chain pixel each: keep it so dissolving them restores the counts.
    owned_cut = cut & in_core(np.arange(n))
    return replace(
        out,
        border_ids=border,
        cut_ids=gid[owned_cut],
        cut_cls=classes[ys, xs][owned_cut].astype(np.int64),
        cut_w=widths[ys, xs][owned_cut].astype(float),
    )


def _chains(
    chain: np.ndarray,
    pa: np.ndarray,
    pb: np.ndarray,
    cc: np.ndarray,
    clab: np.ndarray,
    node_of: np.ndarray,
    is_node: np.ndarray,
    n: int,
    in_core: object,
    mx: np.ndarray,
    my: np.ndarray,
    nmx: np.ndarray,
    nmy: np.ndarray,
    cls: np.ndarray,
    wid: np.ndarray,
    num_classes: int,
) -> BlockEdges:
    """Edges along chains of degree-2 pixels, ordered by one depth-first traversal."""
    if not chain.any():
        return BlockEdges.empty(num_classes)
    ia, ib = pa[cc], pb[cc]
    ideg = np.bincount(ia, minlength=n) + np.bincount(ib, minlength=n)
    ends = chain & (ideg <= 1)
    start = np.full(n, n, dtype=np.int64)
    np.minimum.at(start, clab[ends], np.flatnonzero(ends))
    starts = np.unique(start[clab[chain]])
    starts = starts[starts < n]
    root = n
    rows = np.concatenate([ia, np.full(starts.size, root)])
    cols = np.concatenate([ib, starts])
    g = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    order, pred = depth_first_order(g, root, directed=False, return_predecessors=True)
    seq = order[1:]
    new = pred[seq] == root
    chain_id = np.cumsum(new) - 1
    n_e = int(new.sum())
    first_pos = np.flatnonzero(new)
    last_pos = np.r_[first_pos[1:] - 1, seq.size - 1]
    first, last = seq[first_pos], seq[last_pos]

    # Nodes touching each chain pixel (at most two).
    ext = (chain[pa] & is_node[pb]) | (chain[pb] & is_node[pa])
    cpx = np.where(chain[pa[ext]], pa[ext], pb[ext])
    npx = np.where(chain[pa[ext]], pb[ext], pa[ext])
    o = np.argsort(cpx, kind="stable")
    cpx, npx = cpx[o], npx[o]
    lead = np.r_[True, cpx[1:] != cpx[:-1]] if cpx.size else np.zeros(0, bool)
    ext1 = np.full(n, -1, dtype=np.int64)
    ext2 = np.full(n, -1, dtype=np.int64)
    ext1[cpx[lead]] = npx[lead]
    ext2[cpx[~lead]] = npx[~lead]
    up = ext1[first]
    vp = np.where(first == last, ext2[first], ext1[last])
    keep = (up >= 0) & (vp >= 0) & in_core(first)  # type: ignore[operator]
    if not keep.any():
        return BlockEdges.empty(num_classes)

    # Flat coordinate array: node u, chain pixels, node v for each kept chain.
    kept_ids = np.flatnonzero(keep)
    remap = np.full(n_e, -1, dtype=np.int64)
    remap[kept_ids] = np.arange(kept_ids.size)
    px_keep = keep[chain_id]
    seq_k, cid_k = seq[px_keep], remap[chain_id[px_keep]]
    lens = np.bincount(cid_k, minlength=kept_ids.size)
    out_len = lens + 2
    out_off = np.cumsum(out_len) - out_len
    in_off = np.cumsum(lens) - lens
    xy = np.empty((int(out_len.sum()), 2))
    u_px, v_px = up[keep], vp[keep]
    xy[out_off] = np.c_[nmx[u_px], nmy[u_px]]
    xy[out_off + out_len - 1] = np.c_[nmx[v_px], nmy[v_px]]
    rank = np.arange(seq_k.size) - in_off[cid_k]
    xy[out_off[cid_k] + 1 + rank] = np.c_[mx[seq_k], my[seq_k]]
    geoms = shapely.linestrings(xy, indices=np.repeat(np.arange(kept_ids.size), out_len))

    k = num_classes
    c = cls[seq_k].astype(np.int64)
    ok = (c > 0) & (c < k)
    counts = np.bincount(cid_k[ok] * k + c[ok], minlength=kept_ids.size * k).reshape(-1, k)
    wsum = np.bincount(cid_k, weights=wid[seq_k], minlength=kept_ids.size)
    return BlockEdges(node_of[u_px], node_of[v_px], geoms, counts, wsum, lens.astype(np.int64))


def _links(
    pa: np.ndarray,
    pb: np.ndarray,
    node_of: np.ndarray,
    is_node: np.ndarray,
    in_core: object,
    nmx: np.ndarray,
    nmy: np.ndarray,
    num_classes: int,
) -> BlockEdges:
    """Straight edges between adjacent pixels of two different nodes (cut nodes on seams)."""
    m = is_node[pa] & is_node[pb]
    m &= node_of[pa] != node_of[pb]
    if not m.any():
        return BlockEdges.empty(num_classes)
    a, b = pa[m], pb[m]
    a, b = a[in_core(a)], b[in_core(a)]  # type: ignore[operator]
    if a.size == 0:
        return BlockEdges.empty(num_classes)
    ua, vb = node_of[a], node_of[b]
    key = np.c_[np.minimum(ua, vb), np.maximum(ua, vb)]
    _, first = np.unique(key, axis=0, return_index=True)
    a, b, ua, vb = a[first], b[first], ua[first], vb[first]
    xy = np.empty((2 * a.size, 2))
    xy[0::2] = np.c_[nmx[a], nmy[a]]
    xy[1::2] = np.c_[nmx[b], nmy[b]]
    geoms = shapely.linestrings(xy, indices=np.repeat(np.arange(a.size), 2))
    z = np.zeros(a.size, dtype=np.int64)
    return BlockEdges(ua, vb, geoms, np.zeros((a.size, num_classes), np.int64), z.astype(float), z)


def concat_edges(parts: list[BlockEdges], num_classes: int) -> BlockEdges:
    """Concatenate edge sets."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return BlockEdges.empty(num_classes)
    return BlockEdges(
        np.concatenate([p.u for p in parts]),
        np.concatenate([p.v for p in parts]),
        np.concatenate([p.geoms for p in parts]),
        np.concatenate([p.counts for p in parts]),
        np.concatenate([p.wsum for p in parts]),
        np.concatenate([p.npix for p in parts]),
        np.concatenate([p.cut_ids for p in parts]),
        np.concatenate([p.cut_cls for p in parts]),
        np.concatenate([p.cut_w for p in parts]),
    )
