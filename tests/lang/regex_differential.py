#!/usr/bin/env python3
"""regex_differential.py - builtins.match and builtins.split on seeded random patterns and
strings, flakectl against the real nix-instantiate (Nix 2.8, libstdc++ std::regex).

Every case is wrapped in tryEval and the cases are evaluated in batches; a batch whose
output differs is re-run case by case to name the cases that differ. A batch nix-instantiate
cannot finish within the time limit is left out and counted (libstdc++'s backtracking is
exponential on some patterns; flakectl gives up and asks glibc there). flakectl failing to
finish a batch Nix finished is a failure.

Exit status: 0 all agree, 1 a difference or a flakectl hang, 77 nix-instantiate missing.
Usage: regex_differential.py FLAKECTL [CASES_PER_BUILTIN]
"""
import os
import random
import shutil
import sys
import tempfile

import nixdiff

ATOMS = ["a", "b", "c", "[ab]", ".", "[^a]", "\\\\.", "[[:alpha:]]", "x"]
QUANTIFIERS = ["*", "+", "?", "{1,2}", "{2}", "{1,}", "{0,1}"]
BATCH = 30
LIMIT = 20  # seconds per batch


def pattern(rnd, depth=0):
    def atom():
        c = rnd.random()
        if depth > 2 or c < 0.45:
            return rnd.choice(ATOMS)
        if c < 0.8:
            return "(" + pattern(rnd, depth + 1) + ")"
        return rnd.choice(["^", "$"]) if rnd.random() < 0.3 else "a"

    def term():
        a = atom()
        if a in ("^", "$"):
            return a
        q = rnd.random()
        if q < 0.45:
            a += QUANTIFIERS[min(int(q / 0.45 * len(QUANTIFIERS)), len(QUANTIFIERS) - 1)]
            # a run of quantifiers (`a+*`), which glibc alone compiles exponentially
            while a[-1] in "*+?" and rnd.random() < 0.1:
                a += rnd.choice("*+?")
        return a

    def seq():
        return "".join(term() for _ in range(rnd.randint(1, 3)))

    s = seq()
    while rnd.random() < 0.3:
        s += "|" + seq()
    return s


def cases(seed, n, builtin):
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        p = pattern(rnd)
        s = "".join(rnd.choice("abcx.") for _ in range(rnd.randint(0, 7)))
        out.append('(builtins.tryEval (builtins.%s "%s" "%s"))' % (builtin, p, s))
    return out


def run(cmd):
    out, err = nixdiff.run(cmd, LIMIT)
    return None if out is None else out + err


def main():
    flakectl, per, nix = nixdiff.setup(__doc__, 600)
    work = tempfile.mkdtemp(prefix="regex-diff.")
    path = os.path.join(work, "batch.nix")
    agree = differ = nix_hangs = fl_hangs = 0
    try:
        for builtin, seed in (("match", 1), ("split", 2), ("match", 3), ("split", 4)):
            all_cases = cases(seed, per // 2, builtin)
            for b in range(0, len(all_cases), BATCH):
                chunk = all_cases[b:b + BATCH]
                with open(path, "w") as f:
                    f.write("[\n" + "\n".join(chunk) + "\n]\n")
                want = run(nix + ["--eval", "--strict", path])
                if want is None:
                    nix_hangs += 1
                    continue
                got = run([flakectl, "eval", "--strict", "--file", path])
                if got is None:
                    fl_hangs += 1
                    print("FAIL flakectl did not finish a batch nix-instantiate finished:")
                    print("\n".join("  " + c for c in chunk))
                    continue
                if got == want:
                    agree += len(chunk)
                    continue
                for c in chunk:
                    w = run(nix + ["--eval", "--strict", "--expr", c])
                    g = run([flakectl, "eval", "--strict", "--expr", c])
                    if w is None:
                        continue
                    if g == w:
                        agree += 1
                    else:
                        differ += 1
                        print("FAIL %s\n  nix-instantiate: %s\n  flakectl:        %s"
                              % (c, w.strip(), (g or "(did not finish)").strip()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d cases agree, %d differ; %d batches left out (nix-instantiate took over %d s), "
          "%d flakectl hangs" % (agree, differ, nix_hangs, LIMIT, fl_hangs))
    return 1 if differ or fl_hangs or agree == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
