/**
 * Size limits for a requirement string. PEP 508 sets none; these are generous for real projects
 * (the longest names on public indexes are well under 100 characters) and keep hostile input small.
 */
export const REQUIREMENT_LIMITS = {
  /** The whole `package_name` string. */
  total: 200,
  /** The project name. */
  name: 128,
  /** Each extra's name. */
  extra: 64,
  /** How many extras. */
  extras: 16,
  /** How many comma-separated specifier clauses. */
  clauses: 8,
} as const;
