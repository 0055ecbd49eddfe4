# store: the content-addressed store, NAR, registry, builds, GC.
flakectl_subsystem(store DEPS util HEADERS store.h)
