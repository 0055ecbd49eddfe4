# lang: the Nix language (lexer, parser, evaluator, builtins, printing); uses store only for
# the Nix formats (NAR hash, base-32, path fingerprints), never a store instance.
flakectl_subsystem(lang DEPS util store HEADERS lang.h)
