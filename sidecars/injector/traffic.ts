/**
 * How the agent's traffic reaches Envoy's outbound listener.
 *
 * - `explicit`: env only. `HEXR_PROXY_URL` is the SDK endpoint (mTLS with the agent's SVID; the SDK sends
 *   the real Host), and `HTTP_PROXY`/`HTTPS_PROXY` point generic clients at the same listener. Envoy routes
 *   by Host and originates TLS upstream, so `http://` URLs through the proxy work; a CONNECT tunnel
 *   (`https://` through `HTTPS_PROXY`) is not served, so such calls fail instead of leaving uninspected.
 *   Cooperative: nothing stops a process that ignores the env.
 * - `transparent`: an init container (NET_ADMIN, NET_RAW) installs nat OUTPUT rules that REDIRECT every TCP
 *   connection the agent's uid opens, except loopback and DNS, to Envoy's outbound port. The agent cannot
 *   bypass it without CAP_NET_ADMIN; it still speaks mTLS with its SVID, to the real host name.
 */
import type { InjectorConfig } from "./config.ts";
import { PATHS } from "./render.ts";

export const IPTABLES_CHAIN = "HEXR_OUTPUT";

export interface EnvVar {
  name: string;
  value: string;
}

/** Env for each agent container. `jwt` adds the JWT-SVID listener's URL. */
export function agentEnv(cfg: InjectorConfig, mode: "explicit" | "transparent"): EnvVar[] {
  const env: EnvVar[] = [{ name: "HEXR_TRAFFIC", value: mode }];
  if (cfg.agentWorkloadApi)
    env.push({ name: "SPIFFE_ENDPOINT_SOCKET", value: `unix://${PATHS.spire}/${cfg.spire.socketName}` });
  if (mode === "transparent") return env;
  const proxy = `https://127.0.0.1:${cfg.ports.outbound}`;
  env.push({ name: "HEXR_PROXY_URL", value: proxy });
  if (cfg.envoy.jwtListener && cfg.ports.outboundJwt !== undefined)
    env.push({ name: "HEXR_PROXY_JWT_URL", value: `https://127.0.0.1:${cfg.ports.outboundJwt}` });
  const noProxy = ["localhost", "127.0.0.1", "::1", ...cfg.traffic.noProxy].join(",");
  // Both spellings: curl and wget read only the lower-case http_proxy; Go, Python and Node read either.
  for (const n of ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"]) env.push({ name: n, value: proxy });
  env.push({ name: "NO_PROXY", value: noProxy }, { name: "no_proxy", value: noProxy });
  return env;
}

/**
 * The shell script the `hexr-iptables` init container runs. Re-runnable (an init container retried in the
 * same sandbox finds its chain and flushes it). Every value in it is a number or a validated CIDR.
 */
export function iptablesScript(cfg: InjectorConfig, agentUids: readonly number[]): string {
  const t = cfg.traffic.transparent;
  const lines = ["set -eu"];
  const families: [string, 4 | 6][] = [["iptables", 4]];
  if (t.ipv6) families.push(["ip6tables", 6]);
  for (const [ipt, fam] of families) {
    const nat = `${ipt} -w -t nat`;
    lines.push(
      `${nat} -N ${IPTABLES_CHAIN} 2>/dev/null || ${nat} -F ${IPTABLES_CHAIN}`,
      `${nat} -C OUTPUT -p tcp -j ${IPTABLES_CHAIN} 2>/dev/null || ${nat} -A OUTPUT -p tcp -j ${IPTABLES_CHAIN}`,
      // loopback: the agent calls Envoy (and anything else in the pod) directly
      `${nat} -A ${IPTABLES_CHAIN} -o lo -j RETURN`,
      // Envoy and the hexr sidecar (one uid) reach upstreams, issuers and SPIRE directly
      `${nat} -A ${IPTABLES_CHAIN} -m owner --uid-owner ${cfg.proxyUid} -j RETURN`,
      // DNS over TCP (truncated answers) goes to the cluster resolver, not to Envoy
      `${nat} -A ${IPTABLES_CHAIN} -p tcp --dport 53 -j RETURN`,
    );
    for (const p of t.excludePorts) lines.push(`${nat} -A ${IPTABLES_CHAIN} -p tcp --dport ${p} -j RETURN`);
    for (const c of t.excludeCidrs) {
      if ((c.includes(":") ? 6 : 4) === fam) lines.push(`${nat} -A ${IPTABLES_CHAIN} -d ${c} -j RETURN`);
    }
    // REDIRECT of a locally generated connection lands on 127.0.0.1 (IPv4) or ::1 (IPv6): the outbound
    // listener binds 127.0.0.1, so redirected IPv6 connections are refused (closed, never bypassed).
    for (const uid of agentUids) {
      lines.push(
        `${nat} -A ${IPTABLES_CHAIN} -p tcp -m owner --uid-owner ${uid} -j REDIRECT --to-ports ${cfg.ports.outbound}`,
      );
    }
  }
  lines.push(`echo "hexr: agent uid(s) ${agentUids.join(",")} redirected to 127.0.0.1:${cfg.ports.outbound}"`);
  return `${lines.join("\n")}\n`;
}
