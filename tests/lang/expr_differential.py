#!/usr/bin/env python3
"""expr_differential.py - seeded random, well-typed expressions (ints, floats, strings, lists,
sets, let, lambdas with and without patterns, with, if, and about 40 builtins), evaluated by
flakectl and by the real nix-instantiate, printed plain and as --json.

Twenty expressions make one batch. A batch both reject (a type error the generator can
produce, such as a set used as a number) is left out and counted: error messages differ by
design. Otherwise the outputs, and whether each succeeded, must be equal; a differing batch
is re-run expression by expression to name the expression.
Exit status: 0 all agree, 1 a difference, 77 nix-instantiate missing.
Usage: expr_differential.py FLAKECTL [BATCHES]
"""
import os
import random
import shutil
import sys
import tempfile

import nixdiff

TYPES = ["int", "float", "string", "bool", "list", "attrs"]


class Gen:
    """Well-typed random expressions: gen(t) is an expression of type t."""
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.vars = []  # (name, type)
        self.n = 0

    def fresh(self):
        self.n += 1
        return "v%d" % self.n

    def pick(self, xs):
        return self.r.choice(xs)

    def gen(self, t, d=0):
        r = self.r
        if d > 4:
            return self.leaf(t)
        # variables of this type
        vs = [n for n, ty in self.vars if ty == t]
        c = r.random()
        if vs and c < 0.15:
            return self.pick(vs)
        if c < 0.25:
            return self.leaf(t)
        if c < 0.35:
            return self.let(t, d)
        if c < 0.42:
            return "(if %s then %s else %s)" % (self.gen("bool", d + 1), self.gen(t, d + 1), self.gen(t, d + 1))
        if c < 0.48:
            # lambda application
            at = self.pick(["int", "string", "list", "attrs"])
            v = self.fresh()
            self.vars.append((v, at))
            body = self.gen(t, d + 1)
            self.vars.pop()
            return "((%s: %s) %s)" % (v, body, self.gen(at, d + 1))
        if c < 0.52:
            # attrset pattern lambda
            v1, v2 = self.fresh(), self.fresh()
            self.vars += [(v1, "int"), (v2, "string")]
            body = self.gen(t, d + 1)
            self.vars = self.vars[:-2]
            return "(({ %s, %s ? \"dflt\", ... }: %s) { %s = %s; extra = 1; })" % (v1, v2, body, v1, self.gen("int", d + 1))
        return getattr(self, "g_" + t)(d)

    def let(self, t, d):
        k = self.r.randint(1, 3)
        binds = []
        added = []
        for _ in range(k):
            bt = self.pick(["int", "string", "list", "attrs", "bool", "float"])
            v = self.fresh()
            binds.append("%s = %s;" % (v, self.gen(bt, d + 1)))
            added.append((v, bt))
        self.vars += added
        body = self.gen(t, d + 1)
        self.vars = self.vars[:-len(added)]
        return "(let %s in %s)" % (" ".join(binds), body)

    def leaf(self, t):
        r = self.r
        if t == "int":
            return r.choice(["0", "1", "2", "3", "7", "10", "42", "100", "(-1)", "(-5)", "123456789", "9223372036854775807"])
        if t == "float":
            return r.choice(["1.5", "0.1", "2.0", "3.14159", "1.0e10", "1.0e-5", "100.25", "0.0", "123456.789", "1.0e21", "2.5e-300", "(-2.5)"])
        if t == "string":
            return r.choice(['""', '"a"', '"hello"', '"x y"', '"a\\nb"', '"tab\\there"', '"$"', '"\\${x}"', "''ind ''$ ok''", '"quote\\""', '"é"', '"a.b-c"'])
        if t == "bool":
            return r.choice(["true", "false"])
        if t == "list":
            return r.choice(["[ ]", "[ 1 2 3 ]", '[ "b" "a" ]', "[ [ 1 ] { } ]", "[ null true 1.5 ]"])
        if t == "attrs":
            return r.choice(["{ }", "{ a = 1; b = 2; }", '{ x = "y"; }', "{ a.b.c = 1; a.d = 2; }", "rec { p = 1; q = p + 1; }"])

    def g_int(self, d):
        r = self.r
        c = r.randint(0, 12)
        g = lambda t: self.gen(t, d + 1)
        if c == 0: return "(%s + %s)" % (g("int"), g("int"))
        if c == 1: return "(%s * %s)" % (g("int"), g("int"))
        if c == 2: return "(%s - %s)" % (g("int"), g("int"))
        if c == 3: return "(builtins.length %s)" % g("list")
        if c == 4: return "(builtins.stringLength %s)" % g("string")
        if c == 5: return "(builtins.foldl' (a: b: a + b) 0 (builtins.genList (i: i * %s) %d))" % (g("int"), r.randint(0, 6))
        if c == 6: return "(%s / %d)" % (g("int"), r.choice([1, 2, 3, -7]))
        if c == 7: return "(builtins.length (builtins.attrNames %s))" % g("attrs")
        if c == 8: return "(builtins.floor %s)" % g("float")
        if c == 9: return "(builtins.ceil %s)" % g("float")
        if c == 10: return "(builtins.bitAnd %s %s)" % (g("int"), g("int"))
        if c == 11: return "(%s.a or %s)" % (g("attrs"), g("int"))
        return "(builtins.head (builtins.sort builtins.lessThan [ (%s) (%s) (%s) ]))" % (g("int"), g("int"), g("int"))

    def g_float(self, d):
        c = self.r.randint(0, 5)
        g = lambda t: self.gen(t, d + 1)
        if c == 0: return "(%s + %s)" % (g("float"), g("int"))
        if c == 1: return "(%s * %s)" % (g("float"), g("float"))
        if c == 2: return "(%s / %s)" % (g("float"), self.r.choice(["3", "7.0", "0.5", "1.0e3"]))
        if c == 3: return "(%s - %s)" % (g("int"), g("float"))
        if c == 4: return "(builtins.fromJSON (builtins.toJSON %s))" % g("float")
        return "(0.0 + %s)" % g("int")

    def g_bool(self, d):
        c = self.r.randint(0, 9)
        g = lambda t: self.gen(t, d + 1)
        if c == 0: return "(%s < %s)" % (g("int"), g("int"))
        if c == 1: return "(%s == %s)" % (g("list"), g("list"))
        if c == 2: return "(%s ? a)" % g("attrs")
        if c == 3: return "(%s && !%s)" % (g("bool"), g("bool"))
        if c == 4: return "(%s == %s)" % (g("string"), g("string"))
        if c == 5: return "(builtins.elem %s %s)" % (g("int"), g("list"))
        if c == 6: return "(builtins.isString %s)" % g(self.pick(["string", "int"]))
        if c == 7: return "(%s < %s)" % (g("string"), g("string"))
        if c == 8: return "(%s == %s)" % (g("attrs"), g("attrs"))
        return "(%s -> %s)" % (g("bool"), g("bool"))

    def g_string(self, d):
        c = self.r.randint(0, 14)
        g = lambda t: self.gen(t, d + 1)
        if c == 0: return "(%s + %s)" % (g("string"), g("string"))
        if c == 1: return '"pre-${%s}-post"' % g("string")
        if c == 2: return "(toString %s)" % g(self.pick(["int", "float", "bool", "string"]))
        if c == 3: return "(builtins.toJSON %s)" % g(self.pick(["int", "float", "string", "list", "attrs", "bool"]))
        if c == 4: return '(builtins.concatStringsSep "," [ (%s) (%s) ])' % (g("string"), g("string"))
        if c == 5: return "(builtins.substring %d %d %s)" % (self.r.randint(0, 3), self.r.randint(0, 5), g("string"))
        if c == 6: return '(builtins.replaceStrings [ "a" "" ] [ "AA" "-" ] %s)' % g("string")
        if c == 7: return "(builtins.typeOf %s)" % g(self.pick(["int", "float", "string", "list", "attrs", "bool"]))
        if c == 8: return '(builtins.hashString "sha256" %s)' % g("string")
        if c == 9: return "''\n  line ${%s}\n    indented\n''" % g("string")
        if c == 10: return '(builtins.concatStringsSep "" (builtins.attrNames %s))' % g("attrs")
        if c == 11: return "(toString %s)" % g("list")
        if c == 12: return '(builtins.elemAt (builtins.split "(a)" %s) 0)' % g("string")
        if c == 13: return "(builtins.toJSON (builtins.fromJSON (builtins.toJSON %s)))" % g(self.pick(["list", "attrs"]))
        if c == 14 and self.r.random() < 0.5:
            return self.pick(['(builtins.fromJSON \'\'"\\u0001\\u001f\\u007f\\u00e9\\ud83d\\ude00\\t\\r"\'\')',
                              '(builtins.toJSON (builtins.fromJSON \'\'"\\u0001\\u00e9\\ud83d\\ude00\\b\\f/"\'\'))',
                              '(toString (builtins.compareVersions %s "1.2.3"))' % g("string"),
                              '(builtins.concatStringsSep "|" (builtins.splitVersion "1.2pre3-rc.4a"))',
                              '(builtins.parseDrvName "hello-%s").version' % self.pick(["2.10", "unstable-2020", "x"]),
                              '(builtins.unsafeDiscardStringContext %s)' % g("string"),
                              '(builtins.toJSON [ %s ])' % g("float"),
                              '(toString [ %s (%s) ])' % (g("float"), g("int")),
                              '"\\\\ \\$ ${toString %s}"' % g("float")])
        return '(%s.x or "none")' % g("attrs")

    def g_list(self, d):
        c = self.r.randint(0, 10)
        g = lambda t: self.gen(t, d + 1)
        if c == 0: return "[ (%s) (%s) ]" % (g(self.pick(["int", "string", "float"])), g(self.pick(["list", "attrs", "bool"])))
        if c == 1: return "(%s ++ %s)" % (g("list"), g("list"))
        if c == 2: return "(builtins.attrNames %s)" % g("attrs")
        if c == 3: return "(builtins.attrValues %s)" % g("attrs")
        if c == 4: return "(map (x: [ x ]) %s)" % g("list")
        if c == 5: return "(builtins.filter (x: builtins.isInt x) %s)" % g("list")
        if c == 6: return "(builtins.genList (i: i * i) %d)" % self.r.randint(0, 5)
        if c == 7: return "(builtins.tail (%s ++ [ 0 ]))" % g("list")
        if c == 8: return "(builtins.sort (a: b: a > b) [ (%s) (%s) 5 ])" % (g("int"), g("int"))
        if c == 9: return '(builtins.split "[,;]" %s)' % g("string")
        return "(builtins.catAttrs \"a\" [ (%s) (%s) ])" % (g("attrs"), g("attrs"))

    def g_attrs(self, d):
        c = self.r.randint(0, 9)
        g = lambda t: self.gen(t, d + 1)
        if c == 0: return "{ a = %s; b = %s; }" % (g(self.pick(["int", "string", "list"])), g(self.pick(["attrs", "float", "bool"])))
        if c == 1: return "(%s // %s)" % (g("attrs"), g("attrs"))
        if c == 2: return "(builtins.mapAttrs (n: v: [ n v ]) %s)" % g("attrs")
        if c == 3: return '(builtins.listToAttrs [ { name = %s; value = %s; } { name = "k"; value = 1; } ])' % (g("string"), g("int"))
        if c == 4: return '(builtins.removeAttrs %s [ "a" ])' % g("attrs")
        if c == 5: return "(builtins.intersectAttrs %s %s)" % (g("attrs"), g("attrs"))
        if c == 6: return "{ ${%s} = %s; }" % (g("string"), g("int"))
        if c == 7: return "(with %s; { z = %s; })" % (g("attrs"), g("int"))
        if c == 8: return "(builtins.groupBy (x: toString (builtins.isInt x)) %s)" % g("list")
        return "rec { a = %s; b = a; c = { inherit a b; }; }" % g("int")


def outcome(cmd, limit=20):
    out, err = nixdiff.run(cmd, limit)
    if out is None:
        return None
    return out, bool(err.startswith("error:") or "\nerror:" in err)


def main():
    flakectl, batches, nix = nixdiff.setup(__doc__, 60)
    work = tempfile.mkdtemp(prefix="expr-diff.")
    path = os.path.join(work, "batch.nix")
    agree = differ = both_rejected = 0
    try:
        for seed in range(1, batches + 1):
            g = Gen(seed)
            exprs = ["(%s)" % g.gen(g.pick(TYPES)) for _ in range(20)]
            with open(path, "w") as f:
                f.write("[\n" + "\n".join(exprs) + "\n]\n")
            for mode in ([], ["--json"]):
                want = outcome(nix + ["--eval", "--strict"] + mode + [path])
                got = outcome([flakectl, "eval", "--strict"] + mode + ["--file", path])
                if want is None or got is None:
                    differ += 1
                    print("FAIL seed %d %s: did not finish (nix %s, flakectl %s)"
                          % (seed, mode, want is not None, got is not None))
                    continue
                if want[1] and got[1]:
                    both_rejected += 1
                    continue
                if want == got:
                    agree += 1
                    continue
                differ += 1
                for e in exprs:
                    w = outcome(nix + ["--eval", "--strict"] + mode + ["--expr", e])
                    x = outcome([flakectl, "eval", "--strict"] + mode + ["--expr", e])
                    if w != x:
                        print("FAIL seed %d %s\n  %s\n  nix-instantiate: %s\n  flakectl:        %s"
                              % (seed, mode, e, w, x))
                        break
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d batches agree, %d differ, %d rejected by both (left out)"
          % (agree, differ, both_rejected))
    return 1 if differ or agree == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
