"""Sensor knowledge as data: Sentinel-2 and PALSAR-2 band tables, units, statistics, composites."""
