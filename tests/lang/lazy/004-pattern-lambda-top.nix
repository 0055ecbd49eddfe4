{ a, b ? 2, ... }@args: a
