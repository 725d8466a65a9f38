#!/usr/bin/env python3
"""Prints each test of a meson run that did not pass, with the end of its
output, for scripts/test.sh to repeat after everything else (CI keeps only
the tail of a long run). For the NAT lab it adds the ends of the peers'
debug logs of the failed tests (tests/test-natlab.c keeps them in
natlab-logs/TEST/).

Usage: failure-digest.py TESTLOG.json LABEL NATLAB-LOG-DIR
"""
import glob
import json
import os
import re
import sys

OUTPUT_LINES = 60
PEER_LOG_LINES = 40
# libnice's lines for each packet and each STUN message say nothing about
# how ICE went.
NOISE = re.compile(r"sending \d+ messages|n_sent:|Packet received on local socket"
                   r"|received a valid message|no message available|libnice-stun"
                   r"|compact_input_message|Message 0x|\tBuffer 0x")


def failed_tests(testlog):
    with open(testlog) as log:
        for line in log:
            test = json.loads(line)
            if test["result"] not in ("OK", "SKIP", "EXPECTEDFAIL"):
                yield test


def print_peer_logs(output, peer_logs):
    # The tests reported "not ok", and the newest one, for a check that
    # aborted the program before it could report.
    names = {re.sub(r"^/natlab/", "", path).replace("/", "_")
             for path in re.findall(r"^not ok \d+ (\S+)", output, re.M)}
    tests = [d for d in glob.glob(os.path.join(peer_logs, "*")) if os.path.isdir(d)]
    if tests:
        names.add(os.path.basename(max(tests, key=os.path.getmtime)))
    for name in sorted(names):
        for path in sorted(glob.glob(os.path.join(peer_logs, name, "*.log")),
                           key=os.path.getmtime):
            with open(path, errors="replace") as log:
                lines = [line for line in log if not NOISE.search(line)]
            print(f"--- peer log {name}/{os.path.basename(path)}, last lines:")
            print("".join(lines[-PEER_LOG_LINES:]), end="")


def main():
    testlog, label, peer_logs = sys.argv[1:4]
    for test in failed_tests(testlog):
        output = test.get("stdout", "")
        print(f"--- {label}: {test['name']} {test['result']} after {test['duration']:.1f} s")
        print("\n".join(output.splitlines()[-OUTPUT_LINES:]))
        if test["name"].endswith("/ natlab"):
            print_peer_logs(output, peer_logs)


if __name__ == "__main__":
    main()
