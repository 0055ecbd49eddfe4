# httpserve.py - python's http.server on 127.0.0.1, for the download tests.
#   python3 httpserve.py DIR PORT_FILE LIFETIME_SECONDS [BYTES_PER_SECOND]
# Serves DIR on a free port, writes the port to PORT_FILE (atomically) and exits after
# LIFETIME_SECONDS whatever happens, so a failed test never leaves it behind. With
# BYTES_PER_SECOND, bodies trickle out in small chunks: how the tests catch a download in
# the middle to kill it.
import functools, http.server, os, sys, threading, time

directory, port_file, lifetime = sys.argv[1], sys.argv[2], float(sys.argv[3])
rate = int(sys.argv[4]) if len(sys.argv) > 4 else 0


class Handler(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, source, outputfile):
        if not rate:
            return super().copyfile(source, outputfile)
        chunk = max(1, rate // 10)
        while True:
            data = source.read(chunk)
            if not data:
                return
            outputfile.write(data)
            outputfile.flush()
            time.sleep(0.1)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(
    ("127.0.0.1", 0), functools.partial(Handler, directory=directory))
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
threading.Timer(lifetime, lambda: os._exit(0)).start()
server.serve_forever()
