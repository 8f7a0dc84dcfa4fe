import type { z } from "zod";

/** One readable `path: message` line per schema issue, so a bad file names the place to fix. */
export function formatIssues(error: z.ZodError, prefix = ""): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
    return `${prefix}${path}: ${issue.message}`;
  });
}
