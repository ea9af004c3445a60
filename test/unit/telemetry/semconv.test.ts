import * as incubating from "@opentelemetry/semantic-conventions/incubating";
import { expect, it } from "vitest";
import * as ours from "../../../filters/telemetry/semconv.ts";

it("every GenAI attribute name we copied equals the package's (semantic conventions 1.45)", () => {
  const theirs = incubating as unknown as Record<string, string>;
  for (const [k, v] of Object.entries(ours)) expect(theirs[k], k).toBe(v);
  expect(Object.keys(ours).length).toBeGreaterThanOrEqual(8);
});
