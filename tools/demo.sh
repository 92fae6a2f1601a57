#!/usr/bin/env bash
# The main job on the embedded synthetic data. Usage: bash tools/demo.sh [PYTHON]
set -euo pipefail
PY=${1:-python}
cd "$(dirname "$0")/.."
echo "[demo] environment is ready:"
"$PY" -c "import dpsnet_d2, detectron2, torch; print('  dpsnet_d2', dpsnet_d2.__version__, '| detectron2', detectron2.__version__, '| torch', torch.__version__)"
echo "[demo] this is all the demo runs so far: the synthetic data, model and evaluator are not built yet."
