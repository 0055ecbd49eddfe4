# flake: finding the flake, its Git tree, inputs and flake.lock.
flakectl_subsystem(flake DEPS util lang store HEADERS flake.h)
