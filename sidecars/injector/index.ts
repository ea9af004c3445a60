/** The mutating admission webhook that injects Envoy and the hexr sidecar into agent pods. */
export * from "./config.ts";
export {
  ANNOTATION,
  INJECTION_VERSION,
  type InjectResult,
  injectPod,
  LABEL,
  type NamespaceInfo,
} from "./inject.ts";
export { escapePointer, type JsonPatchOp } from "./patch.ts";
export {
  agentSelectors,
  FILES,
  PATHS,
  type PodIdentity,
  renderDataPlane,
  renderEnvoyBootstrap,
  renderSidecarConfig,
  SOCKETS,
} from "./render.ts";
export { CONTAINER, VOLUME } from "./containers.ts";
export { type AdmissionReviewContext, reviewAdmission } from "./review.ts";
