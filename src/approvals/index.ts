export { createApprovalStore, APPROVAL_STATES, type Approval, type ApprovalResult, type ApprovalState, type ApprovalStore } from "./store.js";
export { screenDecision, type Screening } from "./screen.js";
export {
  createCallApprovalStore,
  isCallApprovalId,
  CALL_APPROVAL_STATES,
  type CallApproval,
  type CallApprovalRowState,
  type CallApprovalStore,
  type CallDecision,
} from "./call-approvals.js";
