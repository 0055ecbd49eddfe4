# secret: age encryption, keys, secrets.nix rules (evaluated with lang), installing secrets.
flakectl_subsystem(secret DEPS util lang HEADERS secret.h)
