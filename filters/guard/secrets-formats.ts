/** Format checks used by the secrets scanner that need decoding (kept apart so the scanner stays flat). */

const MAX_HEADER = 2048;

/** Whether a base64url JWT header segment decodes to a JSON object with a string `alg`. */
export function jwtHeaderHasAlg(segment: string): boolean {
  if (segment.length > MAX_HEADER) return false;
  let json: string;
  try {
    json = Buffer.from(segment, "base64url").toString("utf8");
  } catch {
    return false;
  }
  if (json.charCodeAt(0) !== 0x7b) return false;
  try {
    const h: unknown = JSON.parse(json);
    return typeof h === "object" && h !== null && typeof (h as { alg?: unknown }).alg === "string";
  } catch {
    return false;
  }
}
