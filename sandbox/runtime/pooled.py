"""A pooled build container's first process: waits, started, for its one request, then becomes it.

pipgate creates and starts a few build containers before any request needs one (src/sandbox/pool.ts).
Each runs this and blocks reading its stdin. The broker hands a container to exactly one request by
writing one line: a JSON array of strings, the command a fresh container would have been created with
(forwarder.py ... -- driver.py CONFIG). This process then replaces itself with that command (exec: the
command stays the container's first process, as in a fresh container), with stdin on /dev/null.
Usage: pooled.py [--idle=SECONDS]
  Without a request within SECONDS (or on end of input, or on anything but one valid line), it exits:
  a pool container of a broker that is gone ends itself and is left to the reaper to remove.
"""
import json
import os
import select
import sys
import time

MAX_REQUEST_BYTES = 1024 * 1024
IDLE_EXIT = 3
BAD_REQUEST = 2


def read_request(idle):
    deadline = None if idle is None else time.monotonic() + idle
    data = b""
    while b"\n" not in data:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            return None, IDLE_EXIT
        ready, _, _ = select.select([0], [], [], wait)
        if not ready:
            return None, IDLE_EXIT
        chunk = os.read(0, 65536)
        if not chunk:
            return None, IDLE_EXIT
        data += chunk
        if len(data) > MAX_REQUEST_BYTES:
            return None, BAD_REQUEST
    line = data.split(b"\n", 1)[0]
    try:
        command = json.loads(line.decode("utf-8"))
    except ValueError:
        return None, BAD_REQUEST
    if not isinstance(command, list) or not command or not all(isinstance(arg, str) for arg in command):
        return None, BAD_REQUEST
    return command, 0


def main(argv):
    idle = None
    for arg in argv:
        if arg.startswith("--idle="):
            idle = float(arg.split("=", 1)[1])
    command, code = read_request(idle)
    if command is None:
        if code == BAD_REQUEST:
            sys.stderr.write("pipgate: a pooled container got no valid request\n")
        return code
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.execvp(command[0], command)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
