// The audit log's public surface: the record types, the store, exports and the report.
export * from "./types.js";
export { createAuditLog, type AuditLog, type AuditLookup } from "./store.js";
export { canonicalJson } from "./canonical-json.js";
export { recordHash, type StoredRow } from "./chain.js";
export { parseTimeArgument } from "./query.js";
export { writeJsonl, writeCsv, importJsonl, csvCell, CSV_COLUMNS } from "./export.js";
export { renderHtmlReport, type ReportOptions } from "./report.js";
export { summarise, reasonKind, type ReportData } from "./report-data.js";
