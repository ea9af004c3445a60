/** Test certificates come from the dev CA used by `hexr demo` too. */
export * from "../../sidecars/devtools/dev-ca.ts";
