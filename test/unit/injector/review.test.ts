import { describe, expect, it } from "vitest";
import { reviewAdmission } from "../../../sidecars/injector/index.ts";
import { agentPod, applyPatch, config } from "./fixtures.ts";

const cfg = config();

function review(object: unknown, over: Record<string, unknown> = {}) {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      namespace: "tenant-acme",
      operation: "CREATE",
      object,
      ...over,
    },
  };
}

describe("reviewAdmission", () => {
  it("an opted-in pod: uid echoed, allowed, a base64 JSONPatch that applies", () => {
    const out = reviewAdmission(review(agentPod()), cfg, {
      namespaceOptedIn: true,
      namespaceLabels: () => ({ "hexr.io/tenant": "acme" }),
    });
    expect(out.apiVersion).toBe("admission.k8s.io/v1");
    expect(out.kind).toBe("AdmissionReview");
    expect(out.response.uid).toBe("705ab4f5-6393-11e8-b7cc-42010a800002");
    expect(out.response.allowed).toBe(true);
    expect(out.response.patchType).toBe("JSONPatch");
    const patch = JSON.parse(Buffer.from(out.response.patch!, "base64").toString("utf8"));
    const pod = applyPatch(agentPod(), patch) as { spec: { initContainers: { name: string }[] } };
    expect(pod.spec.initContainers.map((c) => c.name)).toContain("hexr-envoy");
  });

  it("namespace labels come from the lookup", () => {
    const out = reviewAdmission(review(agentPod()), cfg, {
      namespaceLabels: (n) =>
        n === "tenant-acme" ? { "hexr.io/inject": "true", "hexr.io/tenant": "acme" } : undefined,
    });
    expect(out.response.patchType).toBe("JSONPatch");
  });

  it("the namespace comes from the request when the pod has none", () => {
    const pod = agentPod();
    delete pod.metadata.namespace;
    expect(
      reviewAdmission(review(pod), cfg, {
        namespaceOptedIn: true,
        namespaceLabels: () => ({ "hexr.io/tenant": "acme" }),
      }).response.patch,
    ).toBeDefined();
  });

  it("a refusal: allowed false with the reason in status.message", () => {
    const pod = agentPod();
    delete pod.metadata.labels["hexr.io/role"];
    const out = reviewAdmission(review(pod), cfg, {
      namespaceOptedIn: true,
      namespaceLabels: () => ({ "hexr.io/tenant": "acme" }),
    });
    expect(out.response).toEqual({
      uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
      allowed: false,
      status: {
        code: 403,
        message: expect.stringMatching(/^hexr: pod opted in to injection but has no hexr.io\/role label/),
      },
    });
  });

  it("an already-injected pod: allowed without a patch", () => {
    const first = reviewAdmission(review(agentPod()), cfg, {
      namespaceOptedIn: true,
      namespaceLabels: () => ({ "hexr.io/tenant": "acme" }),
    });
    const pod = applyPatch(agentPod(), JSON.parse(Buffer.from(first.response.patch!, "base64").toString()));
    const again = reviewAdmission(review(pod), cfg, {
      namespaceOptedIn: true,
      namespaceLabels: () => ({ "hexr.io/tenant": "acme" }),
    });
    expect(again.response).toEqual({ uid: "705ab4f5-6393-11e8-b7cc-42010a800002", allowed: true });
  });

  it("hexr-system: allowed untouched, with a warning when the pod asked", () => {
    const out = reviewAdmission(
      review(agentPod({ labels: { "hexr.io/inject": "true" } }), { namespace: "hexr-system" }),
      cfg,
    );
    expect(out.response.allowed).toBe(true);
    expect(out.response.patch).toBeUndefined();
    expect(out.response.warnings).toEqual(["hexr: not injected: namespace hexr-system is never injected"]);
  });

  it("an unlabelled pod in a plain namespace: allowed untouched, silently", () => {
    expect(reviewAdmission(review(agentPod()), cfg).response).toEqual({
      uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
      allowed: true,
    });
  });

  it.each([
    [
      "an UPDATE that leaves identity and data plane alone",
      { operation: "UPDATE", oldObject: agentPod({ annotations: { a: "1" } }) },
    ],
    ["a ConfigMap", { kind: { group: "", version: "v1", kind: "ConfigMap" } }],
    ["a subresource", { subResource: "status" }],
    [
      "an ephemeral container without the data plane's volumes",
      { operation: "UPDATE", subResource: "ephemeralcontainers" },
    ],
  ])("%s passes untouched", (_n, over) => {
    const out = reviewAdmission(review(agentPod(), over), cfg, {
      namespaceOptedIn: true,
      namespaceLabels: () => ({ "hexr.io/tenant": "acme" }),
    });
    expect(out.response).toEqual({ uid: "705ab4f5-6393-11e8-b7cc-42010a800002", allowed: true });
  });

  it.each([
    ["not an object", "hello", ""],
    ["null", null, ""],
    [
      "wrong apiVersion",
      { apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview", request: { uid: "u1" } },
      "u1",
    ],
    ["no request", { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }, ""],
    ["no uid", { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { operation: "CREATE" } }, ""],
    [
      "no namespace",
      review(agentPod(), { namespace: "", object: { ...agentPod(), metadata: {} } }),
      "705ab4f5-6393-11e8-b7cc-42010a800002",
    ],
  ])("malformed (%s): allowed false with a reason, never a throw", (_n, body, uid) => {
    const out = reviewAdmission(body, cfg, {
      namespaceOptedIn: true,
      namespaceLabels: () => ({ "hexr.io/tenant": "acme" }),
    });
    expect(out.response.uid).toBe(uid);
    expect(out.response.allowed).toBe(false);
    expect(out.response.status?.code).toBe(400);
    expect(out.response.status?.message).toMatch(/^hexr: /);
  });

  it("a pod object that is not a pod is refused", () => {
    const out = reviewAdmission(review("nope"), cfg, {
      namespaceOptedIn: true,
      namespaceLabels: () => ({ "hexr.io/tenant": "acme" }),
    });
    expect(out.response).toMatchObject({ allowed: false, status: { code: 403 } });
  });

  it("a throwing namespace lookup is a denial, not a crash", () => {
    const out = reviewAdmission(review(agentPod()), cfg, {
      namespaceLabels: () => {
        throw new Error("cache not synced");
      },
    });
    expect(out.response).toMatchObject({
      allowed: false,
      status: { code: 500, message: "hexr: injector error: cache not synced" },
    });
  });
});

describe("reviewAdmission: updates of running pods", () => {
  const ctx = { namespaceOptedIn: true, namespaceLabels: () => ({ "hexr.io/tenant": "acme" }) };
  const injectedPod = () => {
    const out = reviewAdmission(review(agentPod()), cfg, ctx);
    return applyPatch(agentPod(), JSON.parse(Buffer.from(out.response.patch as string, "base64").toString()));
  };

  it.each<[string, (p: ReturnType<typeof agentPod>) => void, RegExp]>([
    [
      "opting in by label",
      (p) => (p.metadata.labels["hexr.io/inject"] = "true"),
      /label hexr.io\/inject cannot change/,
    ],
    ["another role", (p) => (p.metadata.labels["hexr.io/role"] = "admin"), /label hexr.io\/role cannot change/],
    [
      "the tenant label removed",
      (p) => delete p.metadata.labels["hexr.io/tenant"],
      /label hexr.io\/tenant cannot change/,
    ],
    [
      "a hand-set marker",
      (p) => (p.metadata.annotations = { "hexr.io/injected": "{}" }),
      /annotation hexr.io\/injected cannot change/,
    ],
    [
      "sub-agents added",
      (p) => {
        p.metadata.annotations["hexr.io/sub-agents"] = '[{"name":"tool","uid":1001}]';
      },
      /annotation hexr.io\/sub-agents cannot change/,
    ],
    [
      "another Envoy image",
      (p) => (p.spec.initContainers.find((c: { name: string }) => c.name === "hexr-envoy").image = "evil/envoy"),
      /the image of hexr-envoy cannot change/,
    ],
  ])("refuses %s on a running pod", (_n, change, why) => {
    const before = injectedPod();
    const after = structuredClone(before);
    change(after);
    const out = reviewAdmission(review(after, { operation: "UPDATE", oldObject: before }), cfg, ctx);
    expect(out.response.allowed).toBe(false);
    expect(out.response.status?.message).toMatch(why);
  });

  it("refuses an ephemeral container that targets a data plane container", () => {
    const pod = injectedPod();
    pod.spec.ephemeralContainers = [{ name: "debug", image: "busybox", targetContainerName: "hexr-sidecar" }];
    const out = reviewAdmission(
      review(pod, { operation: "UPDATE", subResource: "ephemeralcontainers", oldObject: injectedPod() }),
      cfg,
      ctx,
    );
    expect(out.response.allowed).toBe(false);
    expect(out.response.status?.message).toMatch(/targets hexr-sidecar/);
  });

  it("refuses an ephemeral container that mounts a data plane volume", () => {
    const pod = injectedPod();
    pod.spec.ephemeralContainers = [
      { name: "debug", image: "busybox", volumeMounts: [{ name: "hexr-run", mountPath: "/x" }] },
    ];
    const out = reviewAdmission(
      review(pod, { operation: "UPDATE", subResource: "ephemeralcontainers", oldObject: injectedPod() }),
      cfg,
      ctx,
    );
    expect(out.response.allowed).toBe(false);
    expect(out.response.status?.message).toMatch(/ephemeral container debug mounts volume hexr-run/);
  });
});
