let f = args@{ a, ... }: [ a (builtins.attrNames args) ]; in f { a = 1; z = 2; }
