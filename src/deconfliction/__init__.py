"""Deconfliction: stops mistaken-identity incidents.

It only ever warns (``HOLD`` or ``NO_KNOWN_MATCH``), never points at anything,
fails toward ``HOLD`` and never lets the registry become a target list.
"""

__version__ = "0.1.0"
