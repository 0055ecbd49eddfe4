# cache: binary caches in Nix's format (narinfo, signatures, compressed NARs), pushing to them
# and substituting from them. xz and zstd are the compressions Nix writes and reads.
pkg_check_modules(CACHE_DEPS REQUIRED IMPORTED_TARGET liblzma libzstd)
find_package(Threads REQUIRED)
flakectl_subsystem(cache DEPS util store HEADERS cache.h LIBS PkgConfig::CACHE_DEPS Threads::Threads)
