#!/usr/bin/env python3
"""Check that train.py's resume checkpoints are exact: a --tiny run of stages 0-4
killed (SIGKILL) at a step of each stage and run again ends with the same weights,
bit for bit, as the same run left alone; and likewise stage 3 with the encoder's top
block learning on the cached output of the ones below (--tune-top). One torch thread
(two threads can differ in the last bits whatever the resume). Needs ./llava-eval built and a tokens.json
(prep.py). Usage: models/train/test_resume.py TOKENS.json [WORK]"""
import os, shutil, signal, subprocess, sys, tempfile
import torch

here = os.path.dirname(os.path.abspath(__file__))
tokens = sys.argv[1]
work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="tiny-resume-")
base = [sys.executable, os.path.join(here, "train.py"), "--gen", "./llava-eval", "--tokens", tokens,
        "--work", os.path.join(work, "data"), "--tiny", "--ckpt-every", "2",
        "--threads", "1", "--jobs", "1", "--no-eval", "--augment"]
# (the stages and their flags, the log lines to kill a run at)
CASES = [(["--stages", "01234"],
          ("stage0 step 2/6", "stage1 step 4/6", "stage2 step 2/6", "stage3 step 4/6", "stage4 step 4/6")),
         (["--stages", "3", "--tune-top", "1", "--g4-probe", "1"], ("stage3 step 4/6",))]


def run(args, out, kill_at=None):
    p = subprocess.Popen(base + args + ["--out", out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in p.stdout:
        if kill_at and kill_at in line:
            p.send_signal(signal.SIGKILL)
            break
    p.wait()
    return p.returncode


failed = 0
for n, (args, kills) in enumerate(CASES):
    ref = os.path.join(work, f"straight{n}")
    if run(args, ref) != 0:
        sys.exit(f"the straight run of {' '.join(args)} failed")
    want = torch.load(os.path.join(ref, "model.pt"))
    for at in kills:
        out = os.path.join(work, "killed")
        shutil.rmtree(out, ignore_errors=True)
        run(args, out, at)
        if not os.path.exists(os.path.join(out, "resume.pt")):
            print(f"{' '.join(args)}, killed at '{at}': no resume.pt"); failed += 1; continue
        if run(args, out) != 0 or os.path.exists(os.path.join(out, "resume.pt")):
            print(f"{' '.join(args)}, killed at '{at}': the rerun failed or left resume.pt"); failed += 1; continue
        got = torch.load(os.path.join(out, "model.pt"))
        diff = max((want[k].float() - got[k].float()).abs().max().item() for k in want)
        print(f"{' '.join(args)}, killed at '{at}', run again: max |weight difference| {diff}")
        failed += diff != 0
print("resume exact" if not failed else f"{failed} resume checks failed")
sys.exit(1 if failed else 0)
