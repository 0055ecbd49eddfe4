"""nixdiff.py - what the differential tests in this directory share: their command line
(FLAKECTL [CASES]), the skip when nix-instantiate is missing, running the oracle through
tests/lib/nix-oracle, and running a command with a time limit."""
import concurrent.futures
import os
import shutil
import subprocess
import sys

ORACLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "nix-oracle")
# nix-oracle's status when the oracle said something an answer must not contain (a warning)
ORACLE_MISBEHAVED = 99


def setup(doc, default_cases):
    """Returns (flakectl, cases, the command that runs nix-instantiate as the oracle, a list to
    extend with its arguments); exits 2 on a bad command line and 77 (ctest's skip) when
    nix-instantiate is not installed."""
    if len(sys.argv) < 2:
        print(doc.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    nix = shutil.which("nix-instantiate")
    if not nix:
        print("SKIP: nix-instantiate (Debian package nix-bin) is not installed")
        sys.exit(77)
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else default_cases
    return sys.argv[1], cases, [ORACLE, "nix-instantiate"]


def run_status(cmd, limit, cwd=None):
    """(exit status, stdout, stderr), or (None, None, None) when cmd did not finish within
    limit seconds. When cmd is the oracle and the oracle misbehaved, the test stops here with
    exit 1, saying so: its answer would otherwise be compared with flakectl's and blamed on
    flakectl."""
    # Its own process group, so that a timeout also ends the tool nix-oracle started.
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, errors="replace", start_new_session=True)
    try:
        out, err = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.communicate()
        return None, None, None
    if cmd[:1] == [ORACLE] and p.returncode == ORACLE_MISBEHAVED:
        print("FAIL: the oracle misbehaved, not flakectl: %s" % " ".join(cmd[1:]))
        print(err.rstrip())
        sys.exit(1)
    return p.returncode, out, err


def run(cmd, limit):
    """(stdout, stderr) of run_status."""
    return run_status(cmd, limit)[1:]


def outcome(cmd, limit=30):
    """("ok", stdout), ("error", the first line of the message from "error:" on) or
    ("timeout", "") of one run."""
    out, err = run(cmd, limit)
    if out is None:
        return ("timeout", "")
    for line in err.splitlines():
        if line.startswith("error:"):
            return ("error", line)
    return ("ok", out)


def eval_both(nix, flakectl, expr):
    """(nix-instantiate's outcome, flakectl's) of evaluating expr strictly."""
    return (outcome(nix + ["--eval", "--strict", "--expr", expr]),
            outcome([flakectl, "eval", "--strict", "--expr", expr]))


def compare_all(jobs, one, describe):
    """Runs one(job) -> (nix's outcome, flakectl's) for every job, two at a time; prints a FAIL
    line with describe(job) for each difference and returns how many differed."""
    differ = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        for job, (w, g) in zip(jobs, ex.map(one, jobs)):
            if w != g:
                differ += 1
                print("FAIL %s\n  nix-instantiate: %r\n  flakectl:        %r" % (describe(job), w, g))
    return differ
