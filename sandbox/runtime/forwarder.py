"""Bridges a loopback TCP port inside the network-less sandbox to the index proxy's unix socket.

The container has no network interface but loopback; pipgate bind-mounts the proxy's socket into it.
pip is pointed at http://127.0.0.1:PORT/simple and this process copies bytes both ways.
Usage: forwarder.py PORT SOCKET [--deadline=SECONDS] -- COMMAND...
  Runs COMMAND and exits with its status. With --deadline, exits with 124 after SECONDS whatever
  COMMAND does: as the container's first process, its exit ends every process in the container, so
  the container stops at its timeout even if the broker that would have killed it is gone.
"""
import os
import socket
import subprocess
import sys
import threading
import time


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(listener, path):
    while True:
        client, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(path)
        except OSError:
            client.close()
            continue
        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()


def watchdog(seconds):
    time.sleep(seconds)
    sys.stderr.write("pipgate: the sandbox reached its deadline\n")
    sys.stderr.flush()
    os._exit(124)


def main(argv):
    deadline = None
    if len(argv) >= 3 and argv[2].startswith("--deadline="):
        deadline = float(argv[2].split("=", 1)[1])
        argv = argv[:2] + argv[3:]
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write("usage: forwarder.py PORT SOCKET [--deadline=SECONDS] -- COMMAND...\n")
        return 2
    port, path, command = int(argv[0]), argv[1], argv[3:]
    if deadline is not None:
        threading.Thread(target=watchdog, args=(deadline,), daemon=True).start()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    threading.Thread(target=serve, args=(listener, path), daemon=True).start()
    return subprocess.call(command, env=os.environ)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
