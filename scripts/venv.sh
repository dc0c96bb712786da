# Sourced by ./start and ./run-tests: make .venv from the pinned requirements, and install
# again only when a requirements file or pyproject.toml changed (a hash stamp in .venv).
# Usage: ensure_venv requirements.txt   (or requirements-dev.txt)

ensure_venv() {
    local requirements="$1"
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
        return 1
    fi
    if [ ! -x .venv/bin/python ]; then
        echo "Creating .venv ..." >&2
        "$python" -m venv .venv
    fi
    local stamp=".venv/.installed-$(basename "$requirements").sha256"
    local want
    want="$(cat requirements.txt "$requirements" pyproject.toml | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "Installing pinned requirements from $requirements into .venv ..." >&2
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
        echo "$want" > "$stamp"
    fi
}
