"""The HTTP API under /v1 (FastAPI on uvicorn); the check has an ASGI fast path."""
