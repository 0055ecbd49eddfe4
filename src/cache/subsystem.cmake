# cache: binary caches in Nix's format (keys, narinfo, push, verify, substitution).
flakectl_subsystem(cache DEPS util store HEADERS cache.h LIBS PkgConfig::CACHE_DEPS)
