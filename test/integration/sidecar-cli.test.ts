/**
 * `hexr sidecar` as a real process: config errors name the field, health reports SERVING, Check works
 * over the Unix socket, and SIGTERM drains (health NOT_SERVING, exit 0).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizationService, HEALTH_PROTO } from "../../sidecars/envoy-protos.ts";
import { buildProjectBundle, REPO_ROOT } from "../helpers/bundles.ts";
import { waitFor } from "../../envoy-config/runner.ts";

const HEXR = path.join(REPO_ROOT, "bin/hexr");
let dir: string;
let socket: string;
let proc: ChildProcess;
let stderr = "";
let stdout = "";

type Health = grpc.Client & {
  Check(req: object, cb: (e: grpc.ServiceError | null, r?: { status: string }) => void): void;
};

function healthClient(): Health {
  const def = protoLoader.loadSync(HEALTH_PROTO, { keepCase: true, enums: String });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  return new pkg.grpc.health.v1.Health(`unix:${socket}`, grpc.credentials.createInsecure()) as unknown as Health;
}

function healthStatus(c: Health, service = ""): Promise<string> {
  return new Promise((resolve, reject) => c.Check({ service }, (e, r) => (e ? reject(e) : resolve(r!.status))));
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "hexr-cli-"));
  socket = path.join(dir, "authz.sock");
  const bundle = buildProjectBundle(dir);
  writeFileSync(
    path.join(dir, "hexr.yaml"),
    `trust_domains: [hexr.cloud]\nauthz:\n  listen: { socket: ${socket} }\n  bundle: ${bundle}\naudit: { path: stdout }\ndrain_timeout_ms: 2000\n`,
  );
  proc = spawn(HEXR, ["sidecar", "--config", path.join(dir, "hexr.yaml")], { stdio: ["ignore", "pipe", "pipe"] });
  proc.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  proc.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
});

afterAll(() => {
  if (proc.exitCode === null) proc.kill("SIGKILL");
});

describe("hexr sidecar (process)", () => {
  it("rejects a bad config with an error naming the field, before serving", () => {
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(
      bad,
      "trust_domains: [hexr.cloud]\nauthz: { listen: { socket: /tmp/x.sock }, bundle: b, decision_cache: { max_entries: -1 } }\n",
    );
    const r = spawnSync(HEXR, ["sidecar", "--config", bad], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/authz\.decision_cache\.max_entries: must be an integer/);
  });

  it("--help works on every subcommand", () => {
    for (const cmd of ["sidecar", "policy", "envoy", "demo"]) {
      const r = spawnSync(HEXR, [cmd, "--help"], { encoding: "utf8" });
      expect(r.status, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(/Usage: hexr /);
    }
  });

  it("serves health and Check on the Unix socket, then drains on SIGTERM", async () => {
    await waitFor("sidecar_started log line", () => (stderr.includes('"sidecar_started"') ? true : undefined));
    const health = healthClient();
    expect(await healthStatus(health)).toBe("SERVING");
    expect(await healthStatus(health, "envoy.service.auth.v3.Authorization")).toBe("SERVING");

    const Auth = authorizationService();
    const client = new Auth(`unix:${socket}`, grpc.credentials.createInsecure()) as unknown as {
      Check(
        req: object,
        cb: (e: grpc.ServiceError | null, r?: { status: { code: number }; denied_response?: { body: string } }) => void,
      ): void;
      close(): void;
    };
    const res = await new Promise<{ status: { code: number }; denied_response?: { body: string } }>((resolve, reject) =>
      client.Check({ attributes: { request: { http: { method: "GET", host: "x", path: "/" } } } }, (e, r) =>
        e ? reject(e) : resolve(r!),
      ),
    );
    expect(res.status.code).toBe(7);
    expect(JSON.parse(res.denied_response!.body).reasons[0]).toMatch(/^identity\.no_peer_identity/);
    await waitFor("audit line on stdout", () => (stdout.includes('"decision_id"') ? true : undefined));
    const audit = JSON.parse(stdout.trim().split("\n").at(-1)!);
    expect(audit).toMatchObject({ allow: false, spiffe_id: null });

    const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/"event":"signal".*"signal":"SIGTERM"/);
    expect(stderr).toMatch(/"sidecar_stopped"/);
    client.close();
    health.close();
  });
});

describe("hexr sidecar with HEXR_DIST (the compiled build)", () => {
  const fakeBuild = (marker: string | undefined) => {
    const d = mkdtempSync(path.join(tmpdir(), "hexr-dist-"));
    mkdirSync(path.join(d, "sidecars", "cli"), { recursive: true });
    // would print this if it ran: it must not
    writeFileSync(path.join(d, "sidecars", "cli", "main.js"), 'console.log("ran the foreign build");\n');
    if (marker !== undefined) writeFileSync(path.join(d, ".hexr-dist"), `${marker}\n`);
    return d;
  };
  const run = (dist: string) =>
    spawnSync(HEXR, ["sidecar", "--help"], { encoding: "utf8", env: { ...process.env, HEXR_DIST: dist } });

  it("refuses a build without its marker (unfinished) and one built from other sources (stale)", () => {
    for (const [marker, why] of [
      [undefined, /not a finished build/],
      ["0123456789abcdef", /built from other sources/],
    ] as const) {
      const r = run(fakeBuild(marker));
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stdout).not.toContain("ran the foreign build");
    }
  });

  it("runs a build whose marker matches these sources", () => {
    const hash = spawnSync("bash", [path.join(REPO_ROOT, "scripts/source-hash.sh"), REPO_ROOT], { encoding: "utf8" });
    const r = run(fakeBuild(hash.stdout.trim()));
    expect(r.stdout).toContain("ran the foreign build");
  });
});
