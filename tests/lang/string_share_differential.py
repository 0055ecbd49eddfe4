#!/usr/bin/env python3
"""string_share_differential.py - seeded random programs that grow strings from each other
(`+`, interpolation, foldl' appends, concatStringsSep, replaceStrings, substring, toString),
extend the same value more than once, force extensions before their prefixes are read, and
read the results through builtins that take C strings (match patterns, toXML, hashString,
comparisons, getContext). flakectl shares a prefix's bytes with the strings appended to it
(docs/language.md, "String storage"); every value must still print as nix-instantiate prints
it. Each program is one case. Some are errors (a string with a context where none is
allowed): the first line of the message, which quotes the string, must be the same too.
Exit status: 0 all agree, 1 a difference, 77 nix-instantiate missing.
Usage: string_share_differential.py FLAKECTL [CASES]
"""
import random
import sys

import nixdiff

# Only bytes that are literal in a regular expression, so that any value can be a pattern
LITS = ['""', '"a"', '"b"', '"ab"', '"x1"', '"caf\u00e9"', '"-"', '" "', '","', '"\\n"',
        '"even"', '"odd"', '"zz9"']
CTX = '"${builtins.toFile "f" "t"}"'


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.names = []

    def lit(self):
        return self.r.choice(LITS)

    def ref(self):
        r = self.r
        if self.names and r.random() < 0.8:
            return r.choice(self.names[-4:] if r.random() < 0.6 else self.names)
        return self.lit()

    def expr(self):
        r = self.r
        a, b = self.ref(), self.ref()
        c = r.randint(0, 11)
        if c == 0:
            return "toString (%d)" % r.randint(-20000, 20000)
        if c == 1:
            return "%s + %s" % (a, b)
        if c == 2:
            return '"${%s}%s${%s}"' % (a, r.choice(["", "x", "/", "\u00e9"]), b)
        if c == 3:
            return "%s + %s + %s" % (a, self.lit(), b)
        if c == 4:
            parts = " ".join(self.ref() for _ in range(r.randint(0, 5)))
            return "builtins.foldl' (s: x: s + x) %s [ %s ]" % (a, parts)
        if c == 5:
            return "builtins.foldl' (s: i: s + \"${toString i},\") %s (builtins.genList (i: i) %d)" % (
                a, r.randint(0, 300))
        if c == 6:
            parts = " ".join(self.ref() for _ in range(r.randint(0, 4)))
            return "builtins.concatStringsSep %s [ %s ]" % (self.ref(), parts)
        if c == 7:
            return "builtins.replaceStrings [ %s %s ] [ %s %s ] %s" % (
                self.lit(), self.lit(), self.ref(), self.lit(), a)
        if c == 8:
            return "builtins.substring %d (%d) %s" % (r.randint(0, 5), r.randint(-1, 30), a)
        if c == 9:
            return "builtins.seq (%s + %s) %s" % (a, self.lit(), a)
        if c == 10:
            return CTX if r.random() < 0.3 else "%s + %s" % (a, CTX)
        return "builtins.unsafeDiscardStringContext %s" % a

    def reader(self, v):
        r = self.r
        w = self.ref()
        c = r.randint(0, 7)
        if c == 0:
            return "(builtins.match %s %s)" % (v, w)
        if c == 1:
            return "(builtins.toXML %s)" % v
        if c == 2:
            return '(builtins.hashString "sha256" %s)' % v
        if c == 3:
            return "[ (%s == %s) (%s < %s) (builtins.stringLength %s) ]" % (v, w, v, w, v)
        if c == 4:
            return "(builtins.getContext %s)" % v
        if c == 5:
            return "(builtins.split %s %s)" % (w, v)
        if c == 6:
            return "(builtins.seq (%s + %s) %s)" % (v, self.lit(), v)
        return "(builtins.toJSON %s)" % v

    def program(self):
        binds = []
        for i in range(self.r.randint(4, 14)):
            name = "s%d" % i
            binds.append("%s = %s;" % (name, self.expr()))
            self.names.append(name)
        out = [self.reader(self.r.choice(self.names)) for _ in range(self.r.randint(2, 6))]
        out += self.names
        if self.r.random() < 0.5:
            out.reverse()
        return "let %s in [ %s ]" % (" ".join(binds), " ".join(out))


def main():
    flakectl, cases, nix = nixdiff.setup(__doc__, 300)
    jobs = [(seed, Gen(seed).program()) for seed in range(cases)]

    differ = nixdiff.compare_all(jobs, lambda j: nixdiff.eval_both(nix, flakectl, j[1]),
                                 lambda j: "seed %d: %s" % (j[0], j[1]))
    print("%d programs, %d agree, %d differ" % (len(jobs), len(jobs) - differ, differ))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
