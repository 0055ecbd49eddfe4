#!/usr/bin/env python3
"""termrows.py FILE: replays what a program wrote to a terminal (FILE: the bytes ptyrun.py
copied, LF for the terminal's CR LF) as the terminal shows it - CR returns to column 0, ESC [K
erases to the end of the row, other text overwrites - and prints every row that two writers
shared: two hosts' prefixes ([name]) in one row, or a host's line and an updating progress
line ("deploying: 3 hosts: ...", "copying to n1: ...") in one row. Exits 1 if any, else 0."""
import re
import sys

HOST = re.compile(r"\[[A-Za-z0-9_.-]+\] ")
PROGRESS = re.compile(r"(deploying|copying to [^ :]+|building|substituting): [0-9]")


def rows(text):
    for line in text.split("\n"):
        row, col, i = [], 0, 0
        while i < len(line):
            c = line[i]
            if c == "\r":
                col, i = 0, i + 1
                continue
            m = re.match(r"\x1b\[([0-9;]*)([A-Za-z])", line[i:])
            if m:
                if m.group(2) == "K":
                    del row[col:]
                i += len(m.group(0))
                continue
            if col < len(row):
                row[col] = c
            else:
                row.append(c)
            col, i = col + 1, i + 1
        yield "".join(row)


def main():
    text = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
    shared = [r for r in rows(text)
              if len(HOST.findall(r)) > 1 or (HOST.search(r) and PROGRESS.search(r))]
    for r in shared:
        print("shared row: %r" % r)
    return 1 if shared else 0


if __name__ == "__main__":
    sys.exit(main())
