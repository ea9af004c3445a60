/**
 * Credentials: the three-tier cache and the exchanges with issuers (STS). Every panel is marked
 * `needs: "credentials"`: the series exist on sidecars with a `credentials` section.
 */
import { type DashboardSpec, type PanelSpec, q, row, stat, timeseries } from "./panels.ts";
import { orZero, sumRate } from "./promql.ts";

const LOOKUPS = "hexr_credentials_cache_lookups_total";
const EXCHANGES = "hexr_credentials_exchanges_total";

const needs = (p: PanelSpec): PanelSpec => ({ ...p, needs: "credentials" });

export const credentials: DashboardSpec = {
  uid: "hexr-credentials",
  title: "Hexr / Credentials",
  description:
    "Short-lived cloud credentials injected after an allow: cache lookups per tier (l1 in-process, l2 shared), exchanges with the issuers (AWS STS, GCP STS, Azure Entra) and their errors.",
  tags: ["credentials"],
  rows: [
    row("Cache", [
      needs(
        stat({
          title: "Served from cache",
          description:
            "Share of credential requests answered by any cache tier without an issuer call (hits in l1 or l2 over l1 lookups). Low values mean every request waits for STS.",
          unit: "percentunit",
          min: 0,
          max: 1,
          targets: [
            q(`${orZero(sumRate(LOOKUPS, { where: 'result="hit"' }))} / ${sumRate(LOOKUPS, { where: 'tier="l1"' })}`),
          ],
          thresholds: {
            base: "red",
            steps: [
              { value: 0.5, color: "orange" },
              { value: 0.9, color: "green" },
            ],
          },
        }),
      ),
      needs(
        stat({
          title: "Issuer exchanges per allowed check",
          description:
            "Exchanges with an issuer per allowed Check. Near zero when the cache works; near one means the cache key changes on every request.",
          unit: "percentunit",
          targets: [
            q(`${orZero(sumRate(EXCHANGES))} / ${sumRate("hexr_authz_decisions_total", { where: 'result="allow"' })}`),
          ],
        }),
      ),
      needs(
        timeseries({
          title: "Cache hit ratio by tier",
          description:
            "Hit ratio of each cache tier. l1 drops after a sidecar restart; l2 (shared) should stay high across restarts.",
          unit: "percentunit",
          min: 0,
          max: 1,
          targets: [
            q(
              `${sumRate(LOOKUPS, { where: 'result="hit"', by: ["tier"] })} / ${sumRate(LOOKUPS, { by: ["tier"] })}`,
              "{{tier}}",
            ),
          ],
        }),
      ),
      needs(
        timeseries({
          title: "Cache lookups by provider, tier and result",
          description: "Credential cache lookups per second.",
          unit: "reqps",
          targets: [q(sumRate(LOOKUPS, { by: ["provider", "tier", "result"] }), "{{provider}} {{tier}} {{result}}")],
        }),
      ),
    ]),
    row("Issuers", [
      needs(
        timeseries({
          title: "Exchanges by provider and result",
          description: "Credential exchanges with an issuer per second, ok or the error code.",
          unit: "reqps",
          targets: [q(sumRate(EXCHANGES, { by: ["provider", "result"] }), "{{provider}} {{result}}")],
        }),
      ),
      needs(
        timeseries({
          title: "Exchange error ratio by provider",
          description:
            "Share of exchanges that failed per provider. Each failure denies the request (fail closed): check the issuer's trust configuration for this workload's SPIFFE ID.",
          unit: "percentunit",
          min: 0,
          max: 1,
          targets: [
            q(
              `${sumRate(EXCHANGES, { where: 'result!="ok"', by: ["provider"] })} / ${sumRate(EXCHANGES, { by: ["provider"] })}`,
              "{{provider}}",
            ),
          ],
        }),
      ),
      needs(
        timeseries({
          title: "Exchange errors by code",
          description:
            "Failed exchanges per second by provider and error code (access denied, throttled, timeout, bad token …).",
          unit: "reqps",
          targets: [
            q(sumRate(EXCHANGES, { where: 'result!="ok"', by: ["provider", "result"] }), "{{provider}} {{result}}"),
          ],
        }),
      ),
    ]),
  ],
};
