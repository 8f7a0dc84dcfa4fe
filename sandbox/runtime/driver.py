"""Runs inside the sandbox: resolves a requirement through pipgate's index proxy and builds wheels for
the sdists in the resolved set, in /out (a size-limited tmpfs), then hands the report and the built
wheels back to pipgate through the proxy. Everything it hands back is untrusted data to pipgate, which
caps, hashes and inspects it before anything reaches a target environment.

Usage: driver.py CONFIG_JSON
  CONFIG_JSON: {"requirement": "...", "index_url": "...", "upload_url": "...", "max_wheel_bytes": int,
                "only_binary": bool, "installed": [{"name": ..., "version": ...}], "upgrade": bool}
Progress lines on stdout start with "@@pipgate " followed by a JSON object.
"""
import http.client
import json
import os
import signal
import stat
import subprocess
import sys
import time
from urllib.parse import urlsplit

OUT = "/out"
SITE = "/tmp/pipgate-target-site"
MAX_REPORT_BYTES = 8 * 1024 * 1024

# pip runs with the target's installed set on its own sys.path only: never on PYTHONPATH, which every
# build backend pip starts would inherit (a metadata-only setuptools there hides setuptools' commands).
RUNNER = (
    "import runpy, sys\n"
    "site = sys.argv.pop(1)\n"
    "if site:\n"
    "    sys.path.insert(0, site)\n"
    "runpy.run_module('pip', run_name='__main__', alter_sys=True)\n"
)

# Exit codes the broker reads: each has its own message there.
RESOLVE_FAILED, BUILD_FAILED, OUTPUT_FULL, OUTPUT_REFUSED = 10, 11, 12, 13


class OutputError(Exception):
    """What the build left in /out cannot be handed back (not a regular file, too large, refused)."""


def event(**fields):
    sys.stdout.write("@@pipgate " + json.dumps(fields) + "\n")
    sys.stdout.flush()


def pip(args, site=""):
    base = [sys.executable, "-I", "-c", RUNNER, site, "--isolated", "--disable-pip-version-check", "--no-input", "--no-cache-dir"]
    return subprocess.call(base + args, stdout=sys.stderr)


def stop_others():
    """Kills every process but this one and the container's first: a build's detached children must
    not go on writing while its output is read and handed back."""
    me = os.getpid()
    for _ in range(100):
        alive = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in (1, me):
                continue
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in ("Z", "X"):
                alive.append(int(entry))
        if not alive:
            return
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.02)


def output_full():
    try:
        info = os.statvfs(OUT)
    except OSError:
        return False
    return info.f_bavail * info.f_frsize < 1024 * 1024


def open_regular(path, cap):
    """Opens a file of /out without following a link or blocking on a FIFO; only a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise OutputError("%s cannot be opened: %s" % (path, error.strerror))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise OutputError("%s is not a regular file" % path)
    if info.st_size > cap:
        os.close(fd)
        raise OutputError("%s is %d bytes, more than the %d allowed" % (path, info.st_size, cap))
    return fd, info.st_size


def read_report(path):
    fd, size = open_regular(path, MAX_REPORT_BYTES)
    try:
        data = b""
        while len(data) < size:
            chunk = os.read(fd, size - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError:
        raise OutputError("%s is not a JSON resolution report" % path)


def upload(url, name, path, cap):
    """Hands one file back to pipgate through the proxy; pipgate caps, names and hashes it."""
    fd, size = open_regular(path, cap)
    parts = urlsplit(url)
    try:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        connection.putrequest("PUT", parts.path + name)
        connection.putheader("Content-Length", str(size))
        connection.endheaders()
        remaining = size
        while remaining > 0:
            chunk = os.read(fd, min(1 << 20, remaining))
            if not chunk:
                raise OutputError("%s shrank while it was handed back" % path)
            connection.send(chunk)
            remaining -= len(chunk)
        answer = connection.getresponse()
        body = answer.read(4096).decode("utf-8", "replace").strip()
        if answer.status != 201:
            raise OutputError("pipgate refused %s: %s" % (name, body))
    except (OSError, http.client.HTTPException) as error:
        raise OutputError("handing back %s failed: %s" % (name, error))
    finally:
        os.close(fd)


def fake_installed(site, installed):
    """Makes pip see the target environment's installed distributions, so that `upgrade: false` keeps
    the versions that already satisfy the request. Only names and versions: nothing is importable."""
    os.makedirs(site, exist_ok=True)
    for dist in installed:
        info = os.path.join(site, "%s-%s.dist-info" % (dist["name"].replace("-", "_"), dist["version"]))
        os.makedirs(info, exist_ok=True)
        with open(os.path.join(info, "METADATA"), "w") as handle:
            handle.write("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (dist["name"], dist["version"]))
            for line in dist.get("requires", []):
                handle.write("Requires-Dist: %s\n" % line)
        open(os.path.join(info, "RECORD"), "w").close()
        with open(os.path.join(info, "INSTALLER"), "w") as handle:
            handle.write("pipgate-target\n")


def main(argv):
    config = json.loads(argv[0])
    index = ["--index-url", config["index_url"]]
    report = os.path.join(OUT, "report.json")
    resolve = ["install", "--dry-run", "--report", report, "--progress-bar", "off"] + index
    if config.get("only_binary"):
        resolve += ["--only-binary", ":all:"]
    site = ""
    if config.get("installed"):
        site = SITE
        fake_installed(site, config["installed"])
        resolve += ["--upgrade-strategy", "only-if-needed"]
        if config.get("upgrade"):
            resolve += ["--upgrade"]
    else:
        resolve += ["--ignore-installed"]
    event(stage="resolving")
    code = pip(resolve + [config["requirement"]], site)
    stop_others()
    if code != 0:
        full = output_full()
        event(stage="failed", step="resolve", exit=code, output_full=full)
        return OUTPUT_FULL if full else RESOLVE_FAILED
    try:
        data = read_report(report)
    except OutputError as error:
        event(stage="failed", step="report", reason=str(error))
        return OUTPUT_REFUSED
    sdists = []
    for item in data.get("install", []) if isinstance(data, dict) else []:
        url = item.get("download_info", {}).get("url", "")
        if not url.split("#")[0].endswith(".whl"):
            meta = item.get("metadata", {})
            sdists.append("%s==%s" % (meta.get("name"), meta.get("version")))
    built_dir = os.path.join(OUT, "wheels")
    os.makedirs(built_dir, exist_ok=True)
    if sdists:
        event(stage="building", sdists=sdists)
        code = pip(["wheel", "--no-deps", "--wheel-dir", built_dir, "--progress-bar", "off"] + index + sdists)
        stop_others()
        if code != 0:
            full = output_full()
            event(stage="failed", step="build", exit=code, output_full=full)
            return OUTPUT_FULL if full else BUILD_FAILED
    try:
        upload(config["upload_url"], "report.json", report, MAX_REPORT_BYTES)
        built = sorted(os.listdir(built_dir))
        for name in built:
            upload(config["upload_url"], "wheels/" + name, os.path.join(built_dir, name), config["max_wheel_bytes"])
    except OutputError as error:
        event(stage="failed", step="hand-back", reason=str(error))
        return OUTPUT_REFUSED
    peak = None
    try:
        with open("/sys/fs/cgroup/memory.peak") as handle:
            peak = int(handle.read().strip())
    except (OSError, ValueError):
        pass
    event(stage="done", built=built, peak_memory=peak)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
