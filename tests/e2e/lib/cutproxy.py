# cutproxy.py - a TCP proxy that cuts the connection after N bytes from the client: how the
# tests kill an SSH connection in the middle of a copy (the server and client see the TCP
# connection drop, as with a network failure).
#   python3 cutproxy.py LISTEN_PORT_FILE TARGET_PORT CUT_AFTER_BYTES
# Writes the port it listens on to LISTEN_PORT_FILE; serves connections one after another;
# each connection is cut once it has carried CUT_AFTER_BYTES client-to-server (0 = never).
import socket, select, sys

port_file, target, cut = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(8)
with open(port_file + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
import os
os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = ls.accept()
    s = socket.create_connection(("127.0.0.1", target))
    up = 0
    try:
        while True:
            r, _, _ = select.select([c, s], [], [])
            if c in r:
                d = c.recv(65536)
                if not d:
                    break
                s.sendall(d)
                up += len(d)
                if cut and up >= cut:
                    break
            if s in r:
                d = s.recv(65536)
                if not d:
                    break
                c.sendall(d)
    except OSError:
        pass
    for x in (c, s):
        try:
            x.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        x.close()
