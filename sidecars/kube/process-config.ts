/**
 * The parts of the injector's and the registrar's config files that are about the process, not the job:
 * where to listen, the health endpoint, how to reach the API server, the log level. Each command's own
 * section (`injector:` / `registrar:`) is checked by its module. Errors are `config.invalid` naming the
 * field, as for the sidecar's config.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parse as parseYaml } from "yaml";
import { HexrError } from "../../filters/errors.ts";
import { fail, int, type Obj, obj, onlyKeys, str } from "../config-fields.ts";
import type { Level } from "../logger.ts";
import type { KubeSettings } from "./client.ts";

export const MAX_PROCESS_CONFIG_BYTES = 1 << 20;

export interface Address {
  readonly address: string;
  readonly port: number;
}

export function address(v: unknown, field: string, dflt: Address): Address {
  if (v === undefined) return dflt;
  const o = obj(v, field);
  onlyKeys(o, field, ["address", "port"]);
  return {
    address: o.address === undefined ? dflt.address : str(o.address, `${field}.address`),
    port: int(o.port, `${field}.port`, 0, dflt.port, 65535),
  };
}

export function kubeSettings(v: unknown): KubeSettings {
  if (v === undefined) return {};
  const o = obj(v, "kube");
  onlyKeys(o, "kube", ["api_server", "token_file", "ca_file"]);
  const out: { api_server?: string; token_file?: string; ca_file?: string } = {};
  for (const k of ["api_server", "token_file", "ca_file"] as const)
    if (o[k] !== undefined) out[k] = str(o[k], `kube.${k}`);
  return out;
}

export function logLevel(v: unknown): Level {
  if (v === undefined) return "info";
  const o = obj(v, "log");
  onlyKeys(o, "log", ["level"]);
  const l = o.level ?? "info";
  if (l !== "debug" && l !== "info" && l !== "warn" && l !== "error")
    fail("log.level", "must be debug, info, warn or error");
  return l;
}

/** The YAML root of a config file, size-capped. */
export function readConfigRoot(file: string, text = readFileSync(file, "utf8")): Obj {
  if (text.length > MAX_PROCESS_CONFIG_BYTES) fail(file, `larger than ${MAX_PROCESS_CONFIG_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new HexrError("config.bad_yaml", `${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  return obj(raw ?? {}, "(root)");
}

/** A plain-HTTP health endpoint: `/healthz` always 200, `/readyz` 200 when `ready()`, else 503 with `why`. */
export async function serveHealth(
  at: Address,
  ready: () => boolean,
  why: string,
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const ok = req.url === "/healthz" || (req.url === "/readyz" && ready());
    res.writeHead(ok ? 200 : req.url === "/readyz" ? 503 : 404, { "content-type": "text/plain" });
    res.end(ok ? "ok\n" : req.url === "/readyz" ? `${why}\n` : "not found\n");
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.address, () => resolve((server.address() as AddressInfo).port));
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
