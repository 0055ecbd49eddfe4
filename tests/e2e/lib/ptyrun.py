#!/usr/bin/env python3
"""ptyrun.py CMD [ARGS...]: runs CMD with stdin, stdout and stderr on a fresh pseudo-terminal
(as a user's shell would) and copies everything it writes to our stdout, with the terminal's
CR LF turned back into LF. Exits with CMD's status. For tests of what flakectl does on a
terminal (colour, updating progress lines) without a human at one."""
import fcntl
import os
import pty
import struct
import sys
import termios


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: ptyrun.py CMD [ARGS...]\n")
        return 2
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.setdefault("TERM", "xterm")
        # a terminal of 50 rows and PTY_COLUMNS (200) columns: wide enough that a test's
        # long temporary paths are not cut from an updating line
        cols = int(os.environ.get("PTY_COLUMNS", "200"))
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        except OSError as e:
            sys.stderr.write("ptyrun.py: cannot run %s: %s\n" % (sys.argv[1], e))
            os._exit(127)
    out = bytearray()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    sys.stdout.buffer.write(bytes(out).replace(b"\r\n", b"\n"))
    sys.stdout.flush()
    return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8


if __name__ == "__main__":
    sys.exit(main())
