let f = { a ? 1, b ? builtins.seq a (throw "from default") }: b; in f { }
