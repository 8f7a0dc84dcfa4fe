import { watch, type FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import type { OsvView } from "../policy/malware.js";
import { loadOsvDatabase, type OsvLimits } from "./load.js";

/** rules.osv, resolved: an absolute path and the freshness bound. */
export interface OsvSettings {
  path: string;
  maxAgeHours: number | undefined;
}

/** The live database: the current view for policy, a reload, and the watcher to stop. */
export interface OsvDatabase {
  view(): OsvView;
  /** Loads the path again; the previous snapshot stays in use when the new load fails. */
  reload(): Promise<void>;
  /** what the last load reported (records skipped as not OSV, and why) */
  warnings(): string[];
  close(): void;
}

const DEBOUNCE_MS = 300;

/**
 * Opens the OSV database and keeps it current: loaded before the first request, reloaded when the
 * directory or zip changes (a zip replaced by rename is seen through its parent directory). A reload
 * that fails keeps serving the last good snapshot and reports the error; policy still applies the age
 * bound to it, so a feed that stops updating fails closed once it is older than max_age_hours.
 */
export async function openOsvDatabase(settings: OsvSettings, log: Logger, now: () => Date, limits: Partial<OsvLimits> = {}): Promise<OsvDatabase> {
  let view: OsvView = { path: settings.path, snapshot: undefined, error: "not loaded yet", maxAgeHours: settings.maxAgeHours };
  let warnings: string[] = [];
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const loadOnce = async () => {
    const started = Date.now();
    const loaded = await loadOsvDatabase(settings.path, now(), limits);
    if (loaded.ok) {
      view = { ...view, snapshot: loaded.value.snapshot, error: undefined };
      warnings = loaded.value.warnings;
      log.info(
        { path: settings.path, records: loaded.value.snapshot.records, skipped: loaded.value.skipped, ms: Date.now() - started },
        "loaded the OSV database",
      );
    } else {
      view = { ...view, error: loaded.error };
      log.warn(
        { path: settings.path, err: loaded.error },
        view.snapshot === undefined ? "could not load the OSV database" : "could not reload the OSV database; keeping the last good one",
      );
    }
  };
  const reload = async (): Promise<void> => {
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await loadOnce();
      } while (again && !closed);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  await reload();

  let timer: NodeJS.Timeout | undefined;
  const changed = () => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => void reload(), DEBOUNCE_MS);
    timer.unref();
  };
  let watcher: FSWatcher | undefined;
  try {
    const isDirectory = (await stat(settings.path)).isDirectory();
    const target = isDirectory ? settings.path : dirname(settings.path);
    const name = basename(settings.path);
    watcher = watch(target, { persistent: false, recursive: isDirectory }, (_event, file) => {
      if (isDirectory || file === null || file === name) changed();
    });
    watcher.on("error", (error) => log.warn({ path: settings.path, err: errorMessage(error) }, "stopped watching the OSV database"));
  } catch (error) {
    log.warn({ path: settings.path, err: errorMessage(error) }, "cannot watch the OSV database for changes");
  }

  return {
    view: () => view,
    reload,
    warnings: () => warnings,
    close: () => {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      watcher?.close();
    },
  };
}
