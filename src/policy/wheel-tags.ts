/** What a wheel must fit: the interpreter (CPython 3.X, as the environments and the sandbox run) on Linux x86_64. */
export interface Platform {
  pythonVersion: string;
  /** glibc of the target, e.g. [2, 36] on Debian bookworm */
  glibc: readonly [number, number];
  arch: string;
}

/** The platform pipgate installs for: the sandbox image and the hosts are Debian bookworm on x86_64. */
export function linuxPlatform(pythonVersion: string): Platform {
  return { pythonVersion, glibc: [2, 36], arch: "x86_64" };
}

/**
 * Whether one of a wheel's tag triples suits the platform, as pip's tag list would say: pure-Python
 * (py3, py3X ≤ interpreter, with abi none), CPython-specific (cp3X for this interpreter, or cp3X ≤ it
 * with abi3), on `any` or manylinux/linux for the architecture.
 */
export function isCompatibleWheel(
  tags: { pythonTags: readonly string[]; abiTags: readonly string[]; platformTags: readonly string[] },
  platform: Platform,
): boolean {
  const [major, minor] = platform.pythonVersion.split(".").map(Number);
  if (major === undefined || minor === undefined || Number.isNaN(minor)) return false;
  const platformOk = tags.platformTags.some((tag) => platformFits(tag, platform));
  if (!platformOk) return false;
  for (const py of tags.pythonTags) {
    for (const abi of tags.abiTags) {
      if (pythonAbiFits(py, abi, major, minor)) return true;
    }
  }
  return false;
}

function pythonAbiFits(py: string, abi: string, major: number, minor: number): boolean {
  const generic = /^py(\d)(\d*)$/.exec(py);
  if (generic !== null) {
    if (Number(generic[1]) !== major || abi !== "none") return false;
    return generic[2] === "" || Number(generic[2]) <= minor;
  }
  const cpython = /^cp(\d)(\d+)$/.exec(py);
  if (cpython === null || Number(cpython[1]) !== major) return false;
  const taggedMinor = Number(cpython[2]);
  if (taggedMinor === minor && (abi === `cp${major}${minor}` || abi === "abi3" || abi === "none")) return true;
  return taggedMinor < minor && abi === "abi3";
}

function platformFits(tag: string, platform: Platform): boolean {
  if (tag === "any") return true;
  if (tag === `linux_${platform.arch}`) return true;
  const legacy: Record<string, [number, number]> = { manylinux1: [2, 5], manylinux2010: [2, 12], manylinux2014: [2, 17] };
  const legacyMatch = /^(manylinux1|manylinux2010|manylinux2014)_(.+)$/.exec(tag);
  if (legacyMatch !== null) {
    const needed = legacy[legacyMatch[1] ?? ""];
    return legacyMatch[2] === platform.arch && needed !== undefined && glibcAtLeast(platform.glibc, needed);
  }
  const modern = /^manylinux_(\d+)_(\d+)_(.+)$/.exec(tag);
  if (modern !== null) {
    return modern[3] === platform.arch && glibcAtLeast(platform.glibc, [Number(modern[1]), Number(modern[2])]);
  }
  return false;
}

function glibcAtLeast(have: readonly [number, number], need: readonly [number, number]): boolean {
  return have[0] > need[0] || (have[0] === need[0] && have[1] >= need[1]);
}
