# pkg: native packages (the bundled index, dpkg's database, apt/dnf/pacman/Homebrew plans and
# command lines). The index itself is embedded with the module files (src/module/subsystem.cmake).
flakectl_subsystem(pkg DEPS util HEADERS pkg.h)
