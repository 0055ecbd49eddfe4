# cli: the command line (parsing and printing only) over every other subsystem.
flakectl_subsystem(cli DEPS util lang store secret remote flake module activate pkg cache pull HEADERS cli.h)
