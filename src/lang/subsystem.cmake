# lang: the Nix language (lexer, parser, evaluator, builtins, printing).
flakectl_subsystem(lang DEPS util HEADERS lang.h)
