#!/usr/bin/env python3
"""json_differential.py - builtins.fromJSON on seeded random JSON texts, valid ones and ones
broken by a random edit (a byte deleted, inserted or replaced, the text cut short), read from
a file so that any byte can occur. flakectl and the real nix-instantiate must agree on the
value, or on the whole first line of the error (nlohmann's message: line, column, what was
read, what was expected).
Exit status: 0 all agree, 1 a difference, 77 nix-instantiate missing.
Usage: json_differential.py FLAKECTL [CASES]
"""
import json
import os
import random
import shutil
import sys
import tempfile

import nixdiff

ATOMS = ['0', '-0', '1', '-17', '3.25', '1e3', '-2.5E-3', '9223372036854775807',
         '18446744073709551615', '18446744073709551616', '-9223372036854775809', '1e400',
         'true', 'false', 'null', '""', '"a"', '"\\u00e9\\n\\t\\"\\\\\\/"',
         '"\\ud83d\\ude00"', '"caf\xc3\xa9"', '"\\u0000x"']
JUNK = ['{', '}', '[', ']', ':', ',', '"', '\\', 'u', '\\u12', 'e', '.', '-', '+', ' ', '\n',
        '\t', '\r', 'x', '\x01', '\x7f', '\xc3', '\xff', '\xef\xbb\xbf', '/', 'tru', 'nul']


def gen(r, d=0):
    c = r.random()
    if d > 3 or c < 0.4:
        return r.choice(ATOMS)
    ws = lambda: r.choice(["", " ", "\n", "  \t"])
    if c < 0.7:
        return "[" + ws() + ("," + ws()).join(gen(r, d + 1) for _ in range(r.randint(0, 4))) + "]"
    keys = ['"a"', '"b"', '"a"', '"x y"', '""', '"\\u0041"']
    return "{" + ",".join("%s%s:%s%s" % (ws(), r.choice(keys), ws(), gen(r, d + 1))
                          for _ in range(r.randint(0, 4))) + ws() + "}"


def mutate(r, s):
    b = s.encode("latin-1")
    k = r.randint(0, 3)
    i = r.randint(0, len(b))
    j = r.choice(JUNK).encode("latin-1")
    if k == 0 and b:
        i = min(i, len(b) - 1)
        return b[:i] + b[i + 1:]
    if k == 1:
        return b[:i] + j + b[i:]
    if k == 2 and b:
        i = min(i, len(b) - 1)
        return b[:i] + j + b[i + 1:]
    return b[:i]


def main():
    flakectl, cases, nix = nixdiff.setup(__doc__, 200)
    work = tempfile.mkdtemp(prefix="json-diff.")
    try:
        jobs = []
        for seed in range(cases):
            r = random.Random(seed)
            text = gen(r).encode("latin-1")
            if seed % 4:
                text = mutate(r, text.decode("latin-1"))
            text = text.replace(b"\0", b"")
            path = os.path.join(work, "%d.json" % seed)
            with open(path, "wb") as f:
                f.write(text)
            jobs.append((seed, text, "builtins.fromJSON (builtins.readFile %s)" % path))

        differ = nixdiff.compare_all(jobs, lambda j: nixdiff.eval_both(nix, flakectl, j[2]),
                                     lambda j: "seed %d: %r" % (j[0], j[1]))
        print("%d texts, %d agree, %d differ" % (len(jobs), len(jobs) - differ, differ))
        return 1 if differ else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
