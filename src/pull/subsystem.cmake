# pull: pull mode, the host bringing itself up to date from a cache pointer or a Git flake.
flakectl_subsystem(pull DEPS util store cache activate flake HEADERS pull.h)
