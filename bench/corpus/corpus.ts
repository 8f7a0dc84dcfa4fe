/**
 * The bench corpus: real distributions, as Debian packages them (python3-*), turned into wheels by
 * bench/corpus/build-corpus.ts. These machines reach no public index, so Debian's installed files are
 * the only real packages there are; each set is what one `pip install REQUIREMENT` pulls in.
 *
 * Debian's metadata drops most runtime requirements (its packages depend on each other through apt,
 * not Requires-Dist), so a set lists the upstream requirements of each distribution where Debian
 * dropped them, with ranges widened only where Debian itself patched them (requests accepts
 * charset-normalizer 3, fastapi starlette 0.26) or
 * where Debian unbundled a vendored module (urllib3's six). Without them pip would install one distribution
 * where the real project installs a tree.
 */
export interface CorpusDist {
  /** the distribution's name as Debian installed it under /usr/lib/python3/dist-packages */
  name: string;
  /** runtime Requires-Dist to publish instead of Debian's; Debian's extra-only requirements stay */
  requires?: readonly string[];
}

/** One bench package: what is asked for, everything it installs, and what proves the install works. */
export interface CorpusSet {
  /** short name the bench prints and BENCH_CORPUS selects */
  name: string;
  /** the requirement P1/P2 install */
  requirement: string;
  /** the apt packages that install the distributions (scripts/setup-host.sh installs them) */
  apt: readonly string[];
  dists: readonly CorpusDist[];
  /** modules a fresh venv must import after installing the set */
  imports: readonly string[];
}

export const CORPUS: readonly CorpusSet[] = [
  {
    name: "requests",
    requirement: "requests==2.28.1",
    apt: ["python3-requests"],
    dists: [
      { name: "requests", requires: ["charset-normalizer>=2,<4", "idna>=2.5,<4", "urllib3>=1.21.1,<1.27", "certifi>=2017.4.17"] },
      // Debian's urllib3 imports the six it unbundled (urllib3.packages.six) from the top level.
      { name: "urllib3", requires: ["six>=1.12"] },
      { name: "idna" },
      { name: "certifi" },
      { name: "charset-normalizer" },
      { name: "six" },
    ],
    imports: ["requests"],
  },
  {
    name: "fastapi",
    requirement: "fastapi==0.92.0",
    apt: ["python3-fastapi"],
    dists: [
      { name: "fastapi", requires: ["pydantic!=1.7,!=1.7.1,!=1.7.2,!=1.7.3,!=1.8,!=1.8.1,<2.0.0,>=1.6.2", "starlette>=0.25.0,<0.27"] },
      { name: "pydantic", requires: ["typing-extensions>=4.2.0"] },
      { name: "starlette" },
      { name: "anyio", requires: ["idna>=2.8", "sniffio>=1.1"] },
      { name: "sniffio" },
      { name: "idna" },
      { name: "typing-extensions" },
    ],
    imports: ["fastapi"],
  },
  {
    name: "rich",
    requirement: "rich==13.3.1",
    apt: ["python3-rich"],
    dists: [{ name: "rich" }, { name: "markdown-it-py" }, { name: "mdurl" }, { name: "pygments" }],
    imports: ["rich.console"],
  },
  {
    name: "numpy",
    requirement: "numpy==1.24.2",
    apt: ["python3-numpy"],
    dists: [{ name: "numpy" }],
    imports: ["numpy"],
  },
  {
    name: "pandas",
    requirement: "pandas==1.5.3",
    apt: ["python3-pandas"],
    dists: [
      { name: "pandas", requires: ["numpy>=1.23.2", "python-dateutil>=2.8.1", "pytz>=2020.1"] },
      { name: "numpy" },
      { name: "python-dateutil", requires: ["six>=1.5"] },
      { name: "pytz" },
      { name: "six" },
    ],
    imports: ["pandas"],
  },
];

/** Pure: the sets BENCH_CORPUS names (comma-separated; empty or undefined: all), or which names are unknown. */
export function selectCorpus(
  selection: string | undefined,
  corpus: readonly CorpusSet[] = CORPUS,
): { ok: true; value: CorpusSet[] } | { ok: false; error: string } {
  const names = (selection ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  if (names.length === 0) return { ok: true, value: [...corpus] };
  const unknown = names.filter((name) => !corpus.some((set) => set.name === name));
  if (unknown.length > 0) return { ok: false, error: `unknown corpus set(s) ${unknown.join(", ")}; known: ${corpus.map((set) => set.name).join(", ")}` };
  return { ok: true, value: corpus.filter((set) => names.includes(set.name)) };
}

/** Pure: every distribution the given sets install, once each (a set's allowlist and the index's projects). */
export function corpusDists(sets: readonly CorpusSet[]): CorpusDist[] {
  const byName = new Map<string, CorpusDist>();
  for (const set of sets) {
    for (const dist of set.dists) {
      const known = byName.get(dist.name);
      if (known !== undefined && JSON.stringify(known.requires) !== JSON.stringify(dist.requires)) {
        throw new Error(`corpus: ${dist.name} is declared with different requirements in two sets`);
      }
      byName.set(dist.name, dist);
    }
  }
  return [...byName.values()];
}
