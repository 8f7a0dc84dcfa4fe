export { createApprovalStore, APPROVAL_STATES, type Approval, type ApprovalResult, type ApprovalState, type ApprovalStore } from "./store.js";
export { screenDecision, type Screening } from "./screen.js";
