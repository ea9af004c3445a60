/**
 * `hexr envoy render` and `hexr envoy validate`: the sidecar bootstrap (or a snippet) from the typed
 * templates in `envoy-config/`, and the real `envoy --mode validate` on it.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import {
  ALL_SNIPPET_NAMES,
  type AnySnippetName,
  checkSidecarOptions,
  defaultSidecarOptions,
  embedSnippet,
  envoyVersion,
  findEnvoy,
  renderSidecarBootstrap,
  renderSnippet,
  renderSnippetYaml,
  type SidecarEnvoyOptions,
  toYaml,
  type ValidationResult,
  validateFileWithEnvoy,
  validateWithEnvoy,
} from "../../envoy-config/index.ts";
import { HexrError, isHexrError } from "../../filters/errors.ts";
import { type Command, parseFlags, UsageError } from "./command.ts";

const RENDER_USAGE = `Usage: hexr envoy render [--options FILE] [--snippet ${ALL_SNIPPET_NAMES.join("|")}] [--format yaml|json] [-o FILE]

Renders the sidecar Envoy bootstrap (or, with --snippet, a paste-able piece for an existing Envoy).

Options:
  --options FILE    YAML or JSON options (the fields of SidecarEnvoyOptions: tls, outbound, inbound, authz,
                    extProc, upstreams, http, istio, ...); each top-level key given replaces the default one
  --snippet NAME    ext-authz | spire-sds | ext-proc instead of the whole bootstrap, or istio: the Istio
                    resources (MeshConfig extension provider, ServiceEntry, CUSTOM AuthorizationPolicy,
                    EnvoyFilters) that put hexr's authz and guard behind istio-proxy; options: authz and
                    extProc (their sockets, timeouts) and istio (namespace, providerName, authzHost,
                    authzPort, selector, socketVolume, inboundAuthzBodyBytes)
  --format FORMAT   yaml (default) or json
  -o, --output FILE write to FILE instead of stdout

Without --options: SPIRE mode (agent socket /run/spire/sockets/agent.sock, SVID "default", trust domain
hexr.cloud), outbound listener on 127.0.0.1:15001 (client certificates required), ext_authz on
/run/hexr/authz.sock, no upstreams (every host gets 404 until upstreams are configured).
`;

const VALIDATE_USAGE = `Usage: hexr envoy validate [FILE] [--options FILE] [--snippet NAME]

Runs the real Envoy (\`envoy --mode validate\`, $HEXR_ENVOY or envoy on PATH) on FILE, or on the config
render would produce (a snippet is embedded in a minimal bootstrap; for istio, the Envoy config inside its
EnvoyFilters: the Kubernetes documents are checked against Istio's CRD schemas by the unit tests).
Exit code 0 when Envoy accepts it.
Certificate files the config names must exist: Envoy reads them.
`;

const USAGE = `Usage: hexr envoy <render|validate> [options]

Commands:
  render     print the sidecar Envoy bootstrap or a snippet (YAML or JSON)
  validate   check a config with the real Envoy binary

${RENDER_USAGE}
${VALIDATE_USAGE}`;

/** Options file → checked options. Top-level keys given replace the defaults' (no deep merge: no surprises). */
function loadOptions(file: string | undefined): SidecarEnvoyOptions {
  if (file === undefined) return defaultSidecarOptions();
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, "utf8"));
  } catch (e) {
    throw new HexrError("config.bad_options", `${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new HexrError("config.invalid", `${file}: must be a mapping`);
  try {
    return checkSidecarOptions({ ...defaultSidecarOptions(), ...raw }, file);
  } catch (e) {
    if (isHexrError(e)) throw new HexrError(e.code, `${file}: ${e.message}`);
    throw e;
  }
}

function snippetName(v: string | undefined): AnySnippetName | undefined {
  if (v === undefined) return undefined;
  if (!(ALL_SNIPPET_NAMES as readonly string[]).includes(v))
    throw new UsageError(`--snippet must be one of ${ALL_SNIPPET_NAMES.join(", ")}`);
  return v as AnySnippetName;
}

function render(args: string[]): number {
  const { values } = parseFlags(args, {
    options: { type: "string" },
    snippet: { type: "string" },
    format: { type: "string", default: "yaml" },
    output: { type: "string", short: "o" },
  });
  if (values.help) {
    process.stdout.write(RENDER_USAGE);
    return 0;
  }
  if (values.format !== "yaml" && values.format !== "json") throw new UsageError("--format must be yaml or json");
  const opts = loadOptions(values.options);
  const snippet = snippetName(values.snippet);
  let text: string;
  if (values.format === "json") {
    text = `${JSON.stringify(snippet ? renderSnippet(snippet, opts) : renderSidecarBootstrap(opts), null, 2)}\n`;
  } else {
    text = snippet ? renderSnippetYaml(snippet, opts) : toYaml(renderSidecarBootstrap(opts));
  }
  if (values.output) writeFileSync(values.output, text);
  else process.stdout.write(text);
  return 0;
}

async function validate(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseFlags(args, { options: { type: "string" }, snippet: { type: "string" } }, true);
  if (values.help) {
    process.stdout.write(VALIDATE_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError("validate takes at most one FILE");
  const file = positionals[0];
  if (file !== undefined && (values.options !== undefined || values.snippet !== undefined)) {
    throw new UsageError("give either FILE or --options/--snippet, not both");
  }
  const envoyBin = findEnvoy(env);
  let result: ValidationResult;
  if (file !== undefined) {
    result = await validateFileWithEnvoy(file, { envoyBin });
  } else {
    const opts = loadOptions(values.options);
    const snippet = snippetName(values.snippet);
    result = await validateWithEnvoy(
      snippet ? embedSnippet(renderSnippet(snippet, opts)) : renderSidecarBootstrap(opts),
      { envoyBin },
    );
  }
  const version = await envoyVersion(envoyBin);
  const what = file ?? (values.snippet ? `snippet ${values.snippet}` : "rendered bootstrap");
  if (result.ok) {
    process.stdout.write(`envoy ${version}: ${what} OK\n`);
    return 0;
  }
  process.stderr.write(`envoy ${version}: ${what} rejected\n${result.output}\n`);
  return 1;
}

const command: Command = {
  name: "envoy",
  summary: "render and validate Envoy configuration",
  usage: USAGE,
  async run(args, env) {
    const [sub, ...rest] = args;
    if (sub === "render") return render(rest);
    if (sub === "validate") return validate(rest, env);
    throw new UsageError(sub === undefined ? "missing subcommand (render or validate)" : `unknown subcommand '${sub}'`);
  },
};

export default command;
