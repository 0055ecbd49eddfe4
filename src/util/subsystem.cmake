# util: strings, errors, files, atomic writes, the clock, paths beneath --root, known_hosts.
find_package(Threads REQUIRED)
flakectl_subsystem(util
  HEADERS error.h strbuf.h fs.h clock.h rootpath.h knownhosts.h beneath.h base64.h progress.h sshwire.h http.h
  LIBS PkgConfig::DEPS Threads::Threads m)
