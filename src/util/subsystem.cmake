# util: strings, errors, files, atomic writes, the clock, paths beneath --root, known_hosts.
find_package(Threads REQUIRED)
flakectl_subsystem(util
  HEADERS error.h dynlib.h libcurl.h strbuf.h fs.h clock.h rootpath.h knownhosts.h beneath.h base64.h progress.h sshwire.h http.h
  LIBS PkgConfig::DEPS flakectl_dlopen_headers Threads::Threads m ${CMAKE_DL_LIBS})
