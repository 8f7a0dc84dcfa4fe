/** The scripts a wheel asks the installer to create: each becomes an executable in the environment. */
export interface EntryPoints {
  console_scripts: Record<string, string>;
  gui_scripts: Record<string, string>;
}

const SCRIPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const OBJECT_REFERENCE = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(\s*:\s*[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*)?(\s*\[[^\]]*\])?$/;

/**
 * Parses entry_points.txt (INI). Script names become file names in the environment's bin directory,
 * so a name with a slash or a dot-dot is a problem, not a script; problems are returned as lines.
 */
export function parseEntryPoints(text: string, file: string): { entryPoints: EntryPoints; problems: string[] } {
  const entryPoints: EntryPoints = { console_scripts: {}, gui_scripts: {} };
  const problems: string[] = [];
  let section: string | undefined;
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const where = `${file} line ${index + 1}`;
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header !== null) {
      section = (header[1] ?? "").trim();
      return;
    }
    const equals = line.indexOf("=");
    if (section === undefined || equals < 0) {
      problems.push(`${where}: not a "name = object reference" line inside a section`);
      return;
    }
    if (section !== "console_scripts" && section !== "gui_scripts") return;
    const name = line.slice(0, equals).trim();
    const target = line.slice(equals + 1).trim();
    if (!SCRIPT_NAME.test(name)) {
      problems.push(`${where}: script name ${JSON.stringify(name)} is not a plain file name`);
      return;
    }
    if (!OBJECT_REFERENCE.test(target)) {
      problems.push(`${where}: ${JSON.stringify(target)} is not a "module:attribute" reference`);
      return;
    }
    if (Object.hasOwn(entryPoints[section], name)) {
      problems.push(`${where}: script ${name} is defined twice`);
      return;
    }
    entryPoints[section][name] = target;
  });
  return { entryPoints, problems };
}
