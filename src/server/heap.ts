import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * A full garbage collection on request. V8 collects its old generation when allocation asks for it, so a
 * process that goes quiet after closing many sessions (each MCP server is some 60 KB, kept past the
 * young generation by the idle time) holds their garbage, and the RSS with it, until traffic returns.
 * `--expose-gc` is switched on only long enough to fetch `gc` into a fresh context (as jest's leak
 * detector does) unless the process already has it.
 */
export function heapCollector(): () => void {
  let collect = (globalThis as { gc?: () => void }).gc;
  return () => {
    if (collect === undefined) {
      setFlagsFromString("--expose-gc");
      collect = runInNewContext("gc") as () => void;
      setFlagsFromString("--no-expose-gc");
    }
    collect();
  };
}
