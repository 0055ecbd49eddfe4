# The age conformance test reads the C2SP vectors, some of which are zlib-compressed.
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
target_link_libraries(unit_secret_test_vectors PRIVATE PkgConfig::ZLIB)
