import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parse as parseYaml } from "yaml";
import { defaultSidecarOptions, renderSidecarBootstrap, renderSnippetYaml } from "../../../envoy-config/index.ts";
import { UsageError } from "../../../sidecars/cli/command.ts";
import envoy from "../../../sidecars/cli/envoy.ts";
import { dig, list } from "./dig.ts";

const dir = mkdtempSync(path.join(tmpdir(), "hexr-envoy-cli-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let out = "";
let err = "";
beforeEach(() => {
  out = "";
  err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe("hexr envoy render", () => {
  it("renders the defaults as YAML", async () => {
    expect(await envoy.run(["render"], process.env)).toBe(0);
    expect(parseYaml(out)).toEqual(JSON.parse(JSON.stringify(renderSidecarBootstrap(defaultSidecarOptions()))));
    expect(out).toContain("path: /run/hexr/authz.sock");
    expect(out).toContain("port_value: 15001");
    expect(out).toContain("path: /run/spire/sockets/agent.sock");
  });

  it("renders JSON", async () => {
    expect(await envoy.run(["render", "--format", "json"], process.env)).toBe(0);
    expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(renderSidecarBootstrap(defaultSidecarOptions()))));
  });

  it("writes a snippet to a file, identical to the committed example", async () => {
    const file = path.join(dir, "ext-authz.yaml");
    expect(await envoy.run(["render", "--snippet", "ext-authz", "-o", file], process.env)).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(renderSnippetYaml("ext-authz"));
    expect(out).toBe("");
  });

  it("replaces top-level defaults with an options file", async () => {
    const file = path.join(dir, "opts.yaml");
    writeFileSync(
      file,
      "upstreams:\n  - name: openai\n    domains: [api.openai.com]\n    address: api.openai.com\n    port: 443\n    tls: { sni: api.openai.com }\nextProc: { socket: /run/hexr/ext-proc.sock }\n",
    );
    expect(await envoy.run(["render", "--options", file, "--format", "json"], process.env)).toBe(0);
    const b = JSON.parse(out) as unknown;
    expect(list(b, "static_resources", "clusters").map((c) => dig(c, "name"))).toEqual([
      "hexr_authz",
      "hexr_ext_proc",
      "spire_agent",
      "openai",
    ]);
  });

  it("names the file and the option when the options are wrong", async () => {
    const file = path.join(dir, "bad.yaml");
    writeFileSync(file, "authz: { socket: /a, failureModeAllow: true }\n");
    await expect(envoy.run(["render", "--options", file], process.env)).rejects.toThrow(
      `${file}: authz.failureModeAllow`,
    );
  });

  it("rejects an unknown snippet and format as usage errors", async () => {
    await expect(envoy.run(["render", "--snippet", "lua"], process.env)).rejects.toThrow(UsageError);
    await expect(envoy.run(["render", "--format", "toml"], process.env)).rejects.toThrow(UsageError);
    await expect(envoy.run(["nope"], process.env)).rejects.toThrow(UsageError);
  });

  it("has --help", async () => {
    expect(await envoy.run(["render", "--help"], process.env)).toBe(0);
    expect(out).toMatch(/^Usage: hexr envoy render/);
    expect(envoy.usage).toMatch(/hexr envoy validate/);
  });
});

describe("hexr envoy validate", () => {
  it("validates the rendered defaults with the real Envoy", async () => {
    expect(await envoy.run(["validate"], process.env)).toBe(0);
    expect(out).toMatch(/^envoy 1\.\d+\.\d+: rendered bootstrap OK/);
  });

  it("validates a snippet embedded in a minimal bootstrap", async () => {
    expect(await envoy.run(["validate", "--snippet", "spire-sds"], process.env)).toBe(0);
  });

  it("validates a file and exits 1 with Envoy's reason when it is rejected", async () => {
    const good = path.join(dir, "good.yaml");
    expect(await envoy.run(["render", "-o", good], process.env)).toBe(0);
    expect(await envoy.run(["validate", good], process.env)).toBe(0);
    const bad = path.join(dir, "bad-envoy.yaml");
    writeFileSync(bad, "static_resources: { listeners: [ { name: x, bogus: 1 } ] }\n");
    expect(await envoy.run(["validate", bad], process.env)).toBe(1);
    expect(err).toMatch(/rejected[\s\S]*bogus/);
  });

  it("has --help", async () => {
    expect(await envoy.run(["validate", "-h"], process.env)).toBe(0);
    expect(out).toMatch(/^Usage: hexr envoy validate/);
  });
});
