/**
 * URLs an A2A message may hand to an agent (file parts by URL, push-notification webhooks) or a card may
 * send callers to: http(s) only, never loopback, link-local, private or unspecified addresses, so a caller
 * cannot make the target agent fetch from (or post to) the pod's own network (SSRF).
 *
 * Names are checked as written; a public name that resolves to a private address is the network policy's
 * to stop (the sidecar does not resolve names on the request path).
 *
 * @example
 *   urlRefusal("http://169.254.169.254/latest/meta-data"); // "a link-local address"
 *   urlRefusal("https://files.example.com/q1.pdf");        // undefined
 */

const SCHEMES = new Set(["https:", "http:"]);
/** Suffixes that only resolve inside a cluster or a private network (RFC 6762 .local, Kubernetes, .internal). */
const INTERNAL_SUFFIXES = [".internal", ".local", ".svc", ".cluster.local", ".lan", ".home.arpa", ".intranet", ".corp"];

function ipv4Private(h: string): string | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(h);
  if (!m) return undefined;
  const [a, b] = [Number(m[1]), Number(m[2])];
  if (a === 127) return "a loopback address";
  if (a === 169 && b === 254) return "a link-local address";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "a private address";
  if (a === 100 && b >= 64 && b <= 127) return "a shared (carrier-grade NAT) address";
  if (a === 0) return "an unspecified address";
  return undefined;
}

function ipv6Private(h: string): string | undefined {
  if (!h.startsWith("[")) return undefined;
  const a = h.slice(1, -1).toLowerCase();
  if (a === "::1") return "a loopback address";
  if (a === "::") return "an unspecified address";
  if (/^fe[89ab]/.test(a)) return "a link-local address";
  if (/^fe[c-f]/.test(a)) return "a site-local address";
  if (/^f[cd]/.test(a)) return "a private address";
  // IPv4-mapped (::ffff:), IPv4-compatible (::) and NAT64 (64:ff9b::) forms carry an IPv4 address
  const mapped =
    /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(a) ??
    /^(?:::ffff:|::|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
  if (mapped?.[1] && mapped[2] === undefined) return ipv4Private(mapped[1]);
  if (mapped?.[1] && mapped[2] !== undefined) {
    const n = (Number.parseInt(mapped[1], 16) << 16) | Number.parseInt(mapped[2], 16);
    return ipv4Private(`${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`);
  }
  return undefined;
}

/** Why `raw` may not be handed on, or undefined when it may. WHATWG parsing normalizes IPv4 spellings. */
export function urlRefusal(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return "not an absolute URL";
  }
  if (!SCHEMES.has(u.protocol)) return `scheme ${u.protocol.replace(/:$/, "")} is not http(s)`;
  const host = u.hostname.replace(/\.$/, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return "a loopback name";
  const ip = ipv4Private(host) ?? ipv6Private(host);
  if (ip !== undefined) return ip;
  // names only a cluster or a private network resolves: a single label, or a well-known internal suffix
  if (!host.startsWith("[") && !/^\d+\.\d+\.\d+\.\d+$/.test(host)) {
    if (!host.includes(".")) return "a single-label (internal) name";
    if (INTERNAL_SUFFIXES.some((x) => host.endsWith(x))) return "an internal name";
  }
  return undefined;
}
