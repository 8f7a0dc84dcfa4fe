// Scripts as pip 23 (through its vendored distlib) writes them on Linux, so that a venv committed
// directly behaves, and reads, as one where pip installed the same wheels.

/** The longest shebang Linux executes; longer ones (or paths with spaces) go through /bin/sh. */
const MAX_SHEBANG = 127;

/** The first line(s) of a generated script, byte for byte what distlib builds for the interpreter. */
export function shebang(python: string): string {
  const quoted = python.includes(" ") ? `"${python}"` : python;
  const simple = !quoted.includes(" ") && Buffer.byteLength(quoted) + 3 <= MAX_SHEBANG;
  if (simple) return `#!${quoted}\n`;
  return `#!/bin/sh\n'''exec' ${quoted} "$0" "$@"\n' '''`;
}

/**
 * The wrapper for a console_scripts or gui_scripts entry point ("module:attr.sub [extras]"); extras
 * are ignored as pip ignores them, and a reference without a callable is refused as pip refuses it.
 */
export function entryPointScript(python: string, reference: string): string {
  const spec = reference.replace(/\[[^\]]*\]\s*$/, "").trim();
  const colon = spec.indexOf(":");
  if (colon < 0) throw new Error(`entry point ${JSON.stringify(reference)} names no callable (module:function)`);
  const module = spec.slice(0, colon).trim();
  const func = spec.slice(colon + 1).trim();
  const importName = func.split(".")[0] ?? func;
  return (
    shebang(python) +
    "# -*- coding: utf-8 -*-\n" +
    "import re\n" +
    "import sys\n" +
    `from ${module} import ${importName}\n` +
    "if __name__ == '__main__':\n" +
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n" +
    `    sys.exit(${func}())\n`
  );
}

/**
 * A script from `.data/scripts/` whose first line is `#!python…` gets the venv's interpreter instead,
 * the rest of that line dropped (as pip does); any other script is left as it is.
 */
export function fixScriptShebang(bytes: Buffer, python: string): Buffer {
  if (!bytes.subarray(0, 8).equals(Buffer.from("#!python"))) return bytes;
  const newline = bytes.indexOf(0x0a);
  const rest = newline < 0 ? Buffer.alloc(0) : bytes.subarray(newline + 1);
  return Buffer.concat([Buffer.from(`#!${python}\n`), rest]);
}
