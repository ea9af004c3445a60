# Allows every request. For benchmarks and smoke tests only: never deploy it.
# Built on its own (`hexr policy build --src policies/examples`), never into the main bundle.
package hexr.authz

decision := {"allow": true, "reasons": []}

allow := true
