/** YAML output for rendered configs. */
import { stringify } from "yaml";

/**
 * Serializes a rendered config as YAML. Written as YAML 1.1 so strings Envoy's parser would read as
 * booleans (`y`, `on`, `no`) come out quoted; no anchors/aliases, no line folding.
 *
 * @example
 *   writeFileSync("envoy.yaml", toYaml(renderSidecarBootstrap(opts)));
 */
export function toYaml(obj: unknown): string {
  return stringify(obj, { version: "1.1", lineWidth: 0, aliasDuplicateObjects: false });
}
