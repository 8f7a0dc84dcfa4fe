"""Runs inside the sandbox: resolves a requirement through pipgate's index proxy and builds wheels for
the sdists in the resolved set. Everything it produces lands in /out and is untrusted data to pipgate,
which hashes and inspects it before anything reaches a target environment.

Usage: driver.py CONFIG_JSON
  CONFIG_JSON: {"requirement": "...", "index_url": "...", "only_binary": bool,
                "installed": [{"name": ..., "version": ...}], "upgrade": bool}
Progress lines on stdout start with "@@pipgate " followed by a JSON object.
"""
import json
import os
import subprocess
import sys

OUT = "/out"


def event(**fields):
    sys.stdout.write("@@pipgate " + json.dumps(fields) + "\n")
    sys.stdout.flush()


def pip(args):
    base = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check", "--no-input", "--no-cache-dir"]
    return subprocess.call(base + args, stdout=sys.stderr)


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
    env_site = None
    if config.get("installed"):
        env_site = "/tmp/pipgate-target-site"
        fake_installed(env_site, config["installed"])
        os.environ["PYTHONPATH"] = env_site
        resolve += ["--upgrade-strategy", "only-if-needed"]
        if config.get("upgrade"):
            resolve += ["--upgrade"]
    else:
        resolve += ["--ignore-installed"]
    event(stage="resolving")
    code = pip(resolve + [config["requirement"]])
    if env_site:
        os.environ.pop("PYTHONPATH", None)
    if code != 0:
        event(stage="failed", step="resolve", exit=code)
        return 10
    with open(report) as handle:
        data = json.load(handle)
    sdists = []
    for item in data.get("install", []):
        url = item.get("download_info", {}).get("url", "")
        if not url.split("#")[0].endswith(".whl"):
            meta = item.get("metadata", {})
            sdists.append("%s==%s" % (meta.get("name"), meta.get("version")))
    built_dir = os.path.join(OUT, "wheels")
    os.makedirs(built_dir, exist_ok=True)
    if sdists:
        event(stage="building", sdists=sdists)
        code = pip(["wheel", "--no-deps", "--wheel-dir", built_dir, "--progress-bar", "off"] + index + sdists)
        if code != 0:
            event(stage="failed", step="build", exit=code)
            return 11
    peak = None
    try:
        with open("/sys/fs/cgroup/memory.peak") as handle:
            peak = int(handle.read().strip())
    except (OSError, ValueError):
        pass
    event(stage="done", built=sorted(os.listdir(built_dir)), peak_memory=peak)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
