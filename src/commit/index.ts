// The commit stage's public surface: the rest of pipgate imports from here.
export { commitWheels, type CommitOptions } from "./commit.js";
export { recoverUnfinishedCommits, type Recovery } from "./recover.js";
export { listInstalled } from "./interpreter.js";
export { withEnvironmentLock, createLockQueue, type LockOptions, type LockQueue } from "./lock.js";
export type { CommitFaults, CommitRequest, CommitResult, CommitStage, Pin, VerifiedWheel } from "./request.js";
export { REFUSING_STAGES } from "./request.js";
