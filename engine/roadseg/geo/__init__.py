"""Geography at the edges: raster windows, label rasterisation, grids and writers."""
