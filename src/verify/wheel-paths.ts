/** The sub-directories of `{name}-{version}.data/` an installer maps to a scheme path; nothing else is allowed. */
export const DATA_SCHEMES = ["purelib", "platlib", "scripts", "headers", "data"] as const;

/**
 * Why a path inside a wheel is unsafe to unpack, or undefined for a plain relative path. Installers
 * join these paths onto site-packages (and prefix, and bin): anything that can climb out is refused.
 */
export function unsafePathReason(path: string): string | undefined {
  if (path.includes("\0")) return "contains a NUL byte";
  if ([...path].some((char) => char < " " || char === "\x7f")) return "contains a control character";
  if (path.includes("\\")) return "contains a backslash";
  if (path.startsWith("/")) return "is an absolute path";
  if (/^[A-Za-z]:/.test(path)) return "starts with a drive letter";
  const segments = (path.endsWith("/") ? path.slice(0, -1) : path).split("/");
  if (segments.includes("..")) return 'has a ".." segment';
  if (segments.some((segment) => segment === "" || segment === ".")) return "has an empty or '.' segment";
  return undefined;
}

/** Unix file type bits of a zip entry made on Unix; 0 when the archive did not record one. */
export function unixFileType(externalAttrs: number): number {
  return (externalAttrs >>> 16) & 0o170000;
}

export const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/** Why an entry's recorded file type is refused (symlinks can point anywhere), or undefined. */
export function fileTypeReason(externalAttrs: number): string | undefined {
  const type = unixFileType(externalAttrs);
  if (type === S_IFLNK) return "is a symbolic link";
  if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) return `has a special file type (mode ${type.toString(8)})`;
  return undefined;
}

/**
 * Why a file under a top-level `*.data/` directory is refused, or undefined. `dataDir` is the wheel's
 * own `{name}-{version}.data`; pip treats every top-level `*.data` directory as one, so others are refused.
 */
export function dataPathReason(path: string, dataDir: string | undefined): string | undefined {
  const [top = "", scheme, ...rest] = path.split("/");
  if (!top.endsWith(".data")) return undefined;
  if (top !== dataDir) return `is in ${top}/, which is not this wheel's .data directory`;
  if (scheme === undefined || !(DATA_SCHEMES as readonly string[]).includes(scheme)) {
    return `is in ${top}/ but not under one of its ${DATA_SCHEMES.join(", ")} directories`;
  }
  if (rest.length === 0) return `is a file where the ${top}/${scheme}/ directory should be`;
  return undefined;
}

const SITE_PACKAGES_UNDER_PREFIX = [/^lib(?:64)?\/[^/]*python[^/]*\/site-packages\/(.+)$/i, /^Lib\/site-packages\/(.+)$/i, /^site-packages\/(.+)$/i];

/**
 * Where a path of the archive lands relative to site-packages, or undefined when it lands elsewhere:
 * the archive root and `.data/purelib|platlib/` go there, and `.data/data/` goes to the prefix, whose
 * lib/pythonX.Y/site-packages is site-packages too. Python's start-up reads .pth files (and imports
 * sitecustomize) from there.
 */
export function sitePackagesPath(path: string): string | undefined {
  const [top = "", scheme = "", ...rest] = path.split("/");
  if (!top.endsWith(".data")) return path;
  if ((scheme === "purelib" || scheme === "platlib") && rest.length > 0) return rest.join("/");
  if (scheme !== "data") return undefined;
  const underPrefix = rest.join("/");
  for (const pattern of SITE_PACKAGES_UNDER_PREFIX) {
    const match = pattern.exec(underPrefix);
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

const STARTUP_MODULES = new Set(["sitecustomize", "usercustomize"]);

/**
 * What runs code at every interpreter start-up if a path lands in site-packages: a `.pth` file at its
 * top (site.py executes its `import` lines) or a sitecustomize/usercustomize module.
 */
export function startupHook(path: string): "pth" | "customize" | undefined {
  const inSite = sitePackagesPath(path);
  if (inSite === undefined) return undefined;
  const [first = ""] = inSite.split("/");
  if (!inSite.includes("/") && first.toLowerCase().endsWith(".pth")) return "pth";
  if (STARTUP_MODULES.has((first.split(".")[0] ?? "").toLowerCase())) return "customize";
  return undefined;
}
