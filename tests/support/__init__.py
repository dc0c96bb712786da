"""What the tests share: the one fixed time, the worlds they build, the real server and TAK
clients they start, the backend switch. Test modules import from here (or get fixtures from
a ``conftest.py``), never from one another (``tests/README.md``)."""
