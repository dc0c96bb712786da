"""In-memory spatio-temporal index: arrays and cell grids, rebuilt from the store."""
