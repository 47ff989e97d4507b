#!/usr/bin/env bash
# REO's GPU check (issue 14): one H100/H200, no network, under 8 minutes; prints one JSON document.
#
#   bench/gpu_check.sh [--wheels DIR] [--dry-run] [--workdir DIR] [--budget-s 450] [--only SECTION...]
#
# Runs in the Python environment it is started in, which must already have torch (a CUDA build),
# transformers, peft and accelerate. REO's other requirements are installed from a local folder of
# wheels (--wheels DIR), never from the network. Fill that folder beforehand, on a machine with
# network access, for Python 3.12 on x86_64 Linux:
#
#   grep -v -E '^(torch|transformers|peft|accelerate)==' requirements.txt > /tmp/reo-rest.txt
#   pip download --dest wheels --only-binary=:all: --python-version 3.12 --implementation cp \
#       --abi cp312 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 --platform any -r /tmp/reo-rest.txt
#
# Sections and what they measure: bench/gpu_check.py (its docstring). --dry-run runs them all on the
# CPU with tiny shapes (what tests/infer/test_gpu_check.py does). Exit status 0 when every section
# worked, 1 otherwise; the document says which and why.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
python="${PYTHON:-python}"
wheels=""
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --wheels) wheels="$2"; shift 2 ;;
        --wheels=*) wheels="${1#--wheels=}"; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

# Nothing from a model hub, ever: the check builds its own random weights.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1

missing="$("$python" - <<'PY'
import importlib.util
print(" ".join(m for m in ("torch", "transformers", "peft", "accelerate")
               if importlib.util.find_spec(m) is None))
PY
)"
if [ -n "$missing" ]; then
    echo "gpu_check: this Python ($("$python" -c 'import sys; print(sys.executable)')) lacks: $missing" >&2
    exit 2
fi

if [ -n "$wheels" ]; then
    if [ ! -d "$wheels" ]; then
        echo "gpu_check: --wheels $wheels is not a folder" >&2
        exit 2
    fi
    rest="$(mktemp)"
    grep -v -E '^(torch|transformers|peft|accelerate)==' "$repo/requirements.txt" > "$rest"
    "$python" -m pip install --quiet --no-index --find-links "$wheels" -r "$rest" 1>&2
    rm -f "$rest"
fi

cd "$repo"
exec "$python" bench/gpu_check.py "${args[@]}"
