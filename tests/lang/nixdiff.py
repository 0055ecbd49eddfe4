"""nixdiff.py - what the differential tests in this directory share: their command line
(FLAKECTL [CASES]), the skip when nix-instantiate is missing, and running a command with a
time limit."""
import shutil
import subprocess
import sys


def setup(doc, default_cases):
    """Returns (flakectl, cases, nix-instantiate's path); exits 2 on a bad command line and
    77 (ctest's skip) when nix-instantiate is not installed."""
    if len(sys.argv) < 2:
        print(doc.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    nix = shutil.which("nix-instantiate")
    if not nix:
        print("SKIP: nix-instantiate (Debian package nix-bin) is not installed")
        sys.exit(77)
    cases = int(sys.argv[2]) if len(sys.argv) > 2 else default_cases
    return sys.argv[1], cases, nix


def run(cmd, limit):
    """(stdout, stderr), or (None, None) when cmd did not finish within limit seconds."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=limit)
        return r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return None, None
