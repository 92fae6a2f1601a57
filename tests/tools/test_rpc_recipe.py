"""
docs/rpc.md's recipe runs as written on a stand-in RPC at the real resolution (with the page's
documented CI override suffix); its multi-GPU lines pass argument validation up to the launch.
"""
import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from dpsnet_d2 import get_dpsnet_cfg
from dpsnet_d2.engine import check_launch
from dpsnet_d2.utils.cli import UserError

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "docs" / "rpc.md"

# The suffixes docs/rpc.md documents (the test checks that the page shows them).
CONFIG_SUFFIX = (
    'MODEL.DEVICE cpu MODEL.WEIGHTS "" MODEL.RESNETS.NORM GN MODEL.FPN.OUT_CHANNELS 64 '
    "MODEL.ROI_BOX_HEAD.FC_DIM 64 MODEL.ROI_HEADS.NUM_CLASSES 3 "
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE 64 MODEL.RPN.POST_NMS_TOPK_TRAIN 100 "
    "MODEL.RPN.POST_NMS_TOPK_TEST 100 SEED 0 SOLVER.IMS_PER_BATCH 2 SOLVER.MAX_ITER 2 "
    'SOLVER.BASE_LR 0.0001 SOLVER.STEPS "()" DISTILL.BASE_LR 0.0001 INPUT.MIN_SIZE_TRAIN "(128,)" '
    "INPUT.MAX_SIZE_TRAIN 160 INPUT.MIN_SIZE_TEST 128 INPUT.MAX_SIZE_TEST 160 "
    "INPUT.SYNTHESIS.CANVAS_SIZE 160 DATALOADER.NUM_WORKERS 0 DISTILL.ROUNDS 1 "
    "DISTILL.ITERS_PER_ROUND 1 DISTILL.REFINE.ITERS 1 TEST.RPC_COMPUTE_MAP False"
)
MASKS_SUFFIX = "--steps 2 --max-train 8 --workers 1"
CONFIG_TOOLS = ("train_net.py", "distill_net.py", "checkout.py")
KEY = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$")


def section_commands(heading_start):
    """The ``python tools/...`` commands of the bash blocks under the section whose heading
    starts with ``heading_start`` (continuation lines joined)."""
    text = RECIPE.read_text()
    section = text.split("\n## " + heading_start, 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("python tools/"):
                commands.append(" ".join(line.split()))
    return commands


def with_suffix(command):
    """The command with the CI suffix: config tools get CONFIG_SUFFIX ahead of their own
    KEY VALUE pairs, ``prepare_rpc.py masks`` gets MASKS_SUFFIX at the end."""
    tokens = shlex.split(command, posix=False)
    tool = os.path.basename(tokens[1])
    if tool in CONFIG_TOOLS:
        first_key = next((i for i, t in enumerate(tokens) if i > 1 and KEY.match(t)), len(tokens))
        tokens[first_key:first_key] = shlex.split(CONFIG_SUFFIX, posix=False)
    elif tool == "prepare_rpc.py" and tokens[2] == "masks":
        tokens += MASKS_SUFFIX.split()
    return " ".join(tokens)


def test_the_page_documents_the_suffixes():
    page = " ".join(RECIPE.read_text().split())
    assert CONFIG_SUFFIX in page and MASKS_SUFFIX in page


# Every command of the recipe on the full-resolution stand-in: about 140 s of CPU in all
# (stand-in 18, check 5, masks 9, prune 7, train 31, distill 46, leaderboard 13, receipts 12).
def test_recipe_runs_on_the_stand_in(tmp_path):
    commands = section_commands("1.")
    assert [c.split()[1] for c in commands] == [
        "tools/check_rpc_dataset.py", "tools/prepare_rpc.py", "tools/prepare_rpc.py",
        "tools/train_net.py", "tools/distill_net.py", "tools/train_net.py", "tools/checkout.py"]
    work = tmp_path / "work"
    work.mkdir()
    for name in ("configs", "tools"):
        (work / name).symlink_to(REPO / name)
    env = dict(os.environ, DETECTRON2_DATASETS=str(tmp_path / "datasets"),
               PYTHONPATH=str(REPO), OMP_NUM_THREADS="2")
    stand_in = section_commands("0.")
    assert len(stand_in) == 1
    for command in stand_in + [with_suffix(c) for c in commands]:
        command = command.replace("python ", shlex.quote(sys.executable) + " ", 1)
        done = subprocess.run(["bash", "-c", command], cwd=work, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    distill = work / "output/rpc/dpsnet_R_50_FPN_distill"
    assert (distill / "round_0" / "model_final.pth").exists()
    # the leaderboard table on rpc_2019_test, finite numbers (the run did not diverge)
    table = json.loads((distill / "inference/rpc_2019_test/rpc_results.json").read_text())
    assert table["dataset"] == "rpc_2019_test"
    numbers = [row[c] for row in table["rows"] for c in ("cAcc", "mCIoU", "ACD")
               if row[c] is not None]
    assert numbers and all(math.isfinite(v) for v in numbers)
    receipts = work / "output/rpc/receipts"
    assert (receipts / "receipts.json").exists() and len(list(receipts.glob("*.txt"))) == 1


@pytest.mark.parametrize("command", section_commands("2."))
def test_multi_gpu_lines_pass_argument_validation(command, load_tool):
    tokens = shlex.split(command)
    tool = load_tool(Path(tokens[1]).stem)
    parser = tool.argument_parser() if hasattr(tool, "argument_parser") else tool.parser()
    args = parser.parse_args(tokens[2:])
    assert args.num_gpus == 8
    cfg = get_dpsnet_cfg(str(REPO / args.config_file), args.opts)
    world = args.num_gpus * args.num_machines
    assert cfg.SOLVER.IMS_PER_BATCH % world == 0
    try:
        check_launch(cfg, num_gpus=args.num_gpus, num_machines=args.num_machines,
                     machine_rank=args.machine_rank)
    except UserError as e:  # without 8 GPUs the only complaint is the missing GPUs
        assert "GPU" in str(e)
