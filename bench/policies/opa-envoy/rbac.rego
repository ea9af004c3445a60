# The reference peer's policy for `opa-envoy-rbac`: the decisions of policies/authz.rego (the seed's role
# policy), expressed for opa-envoy-plugin's input — Envoy's CheckRequest as JSON:
#   input.attributes.source.principal   the SPIFFE ID Envoy read from the client certificate's URI SAN
#   input.attributes.request.http       method, host, path, headers
# Evaluated by the plugin's ext_authz gRPC server at path `envoy/authz/result` (a decision object).
#
# Same as the Hexr side: trust domain and agent-ID checks, the service catalog for the services the benchmark
# calls (S3 path style, BigQuery, OpenAI, Anthropic; any other host is "unknown service"), role grants,
# business hours (UTC), an explained 403 with reasons, a decision id header, and client-set x-hexr-* /
# x-forwarded-client-cert headers removed. Not expressible here: the per-agent calls-per-minute counter
# (OPA keeps no request state), which the Hexr benchmark bundle sets high enough never to fire.
package envoy.authz

# opa-envoy-plugin v0.70 embeds OPA 0.70, whose default is Rego v0: opt in to v1 keywords.
import rego.v1

trust_domains := {"hexr.cloud"}

# ---- identity: only from what Envoy authenticated ---------------------------------------------------

principal := input.attributes.source.principal

# "spiffe://td/agent/tenant/agent/role[/...]" → ["spiffe:", "", td, "agent", tenant, agent, role, ...]
id_parts := split(principal, "/")

identity := {"tenant": id_parts[4], "agent": id_parts[5], "role": id_parts[6]} if {
	startswith(principal, "spiffe://")
	id_parts[2] in trust_domains
	id_parts[3] == "agent"
	id_parts[4] != ""
	id_parts[5] != ""
	id_parts[6] != ""
}

# ---- request facts ---------------------------------------------------------------------------------

http_request := input.attributes.request.http

method := http_request.method

host := lower(split(http_request.host, ":")[0])

path := split(http_request.path, "?")[0]

# ---- service catalog (hosts: "." globs; paths: "/" globs, first matching action wins) ----------------

s3_bucket_actions(bucket) := [
	{"method": "GET", "path": bucket, "action": "ListBucket"},
	{"method": "HEAD", "path": bucket, "action": "HeadBucket"},
	{"method": "PUT", "path": bucket, "action": "CreateBucket"},
	{"method": "DELETE", "path": bucket, "action": "DeleteBucket"},
	{"method": "POST", "path": bucket, "action": "DeleteObjects"},
]

s3_object_actions(object) := [
	{"method": "GET", "path": object, "action": "GetObject"},
	{"method": "HEAD", "path": object, "action": "HeadObject"},
	{"method": "PUT", "path": object, "action": "PutObject"},
	{"method": "DELETE", "path": object, "action": "DeleteObject"},
	{"method": "POST", "path": object, "action": "PutObject"},
]

catalog := [
	{
		"service": "aws_s3",
		"hosts": ["s3.amazonaws.com", "s3.*.amazonaws.com"],
		"actions": array.concat(
			array.concat([{"method": "GET", "path": "/", "action": "ListAllMyBuckets"}], s3_bucket_actions("/?*")),
			s3_object_actions("/?*/?**"),
		),
	},
	{
		"service": "gcp_bigquery",
		"hosts": ["bigquery.googleapis.com"],
		"actions": [
			{"method": "POST", "path": "/bigquery/v2/projects/?*/queries", "action": "query"},
			{"method": "GET", "path": "/bigquery/v2/projects/?*/queries/?*", "action": "getQueryResults"},
			{"method": "POST", "path": "/bigquery/v2/projects/?*/jobs", "action": "insertJob"},
			{"method": "GET", "path": "/bigquery/v2/projects/?*/jobs", "action": "listJobs"},
			{"method": "GET", "path": "/bigquery/v2/projects/?*/jobs/?*", "action": "getJob"},
		],
	},
	{
		"service": "openai",
		"hosts": ["api.openai.com"],
		"actions": [
			{"method": "POST", "path": "/v1/chat/completions", "action": "chat.completions.create"},
			{"method": "POST", "path": "/v1/responses", "action": "responses.create"},
			{"method": "POST", "path": "/v1/embeddings", "action": "embeddings.create"},
		],
	},
	{
		"service": "anthropic",
		"hosts": ["api.anthropic.com"],
		"actions": [{"method": "POST", "path": "/v1/messages", "action": "messages.create"}],
	},
]

matching_entries := [i |
	some i, entry in catalog
	some pattern in entry.hosts
	glob.match(pattern, ["."], host)
]

default service := "unknown"

service := catalog[matching_entries[0]].service

matching_actions := [a.action |
	some a in catalog[matching_entries[0]].actions
	a.method == method
	glob.match(a.path, ["/"], path)
]

default action := "unknown"

action := matching_actions[0]

# ---- grants: as in policies/authz.rego --------------------------------------------------------------

grants := {
	"researcher": {
		"gcp_bigquery": {"*"},
		"aws_s3": s3_read_actions,
		"openai": llm_actions,
		"anthropic": llm_actions,
	},
	"writer": {
		"aws_s3": {"PutObject"},
		"openai": llm_actions,
		"anthropic": llm_actions,
	},
	"editor": {},
}

llm_actions := {"chat.completions.create", "responses.create", "embeddings.create", "messages.create"}

s3_read_actions := {"GetObject", "HeadObject", "ListBucket", "HeadBucket", "ListAllMyBuckets"}

business_hours := {"researcher": {"from": 8, "to": 18}}

role := identity.role

granted if {
	some a in grants[role][service]
	a in {"*", action}
}

deny contains "no agent identity from the peer certificate" if not identity

deny contains "unknown service" if service == "unknown"

deny contains sprintf("unknown role %s", [role]) if not grants[role]

deny contains sprintf("role %s may not use %s", [role, service]) if {
	service != "unknown"
	role_grants := grants[role]
	not role_grants[service]
}

deny contains sprintf("role %s may not perform %s on %s", [role, action, service]) if {
	actions := grants[role][service]
	not "*" in actions
	not action in actions
}

within_hours(hour, hours) if {
	hour >= hours.from
	hour < hours.to
}

deny contains "outside business hours" if {
	hours := business_hours[role]
	not within_hours(time.clock(time.now_ns())[0], hours)
}

default allow := false

allow if {
	granted
	count(deny) == 0
}

reasons := sort(deny) if {
	count(deny) > 0
} else := ["denied by policy"]

# ---- the decision object opa-envoy-plugin turns into a CheckResponse ---------------------------------

decision_id := uuid.rfc4122("decision")

client_set_headers := [name |
	some name, _ in http_request.headers
	client_may_not_set(name)
]

client_may_not_set(name) if startswith(name, "x-hexr-")

client_may_not_set("x-forwarded-client-cert")

result := {
	"allowed": true,
	"headers": {"x-hexr-decision-id": decision_id},
	"request_headers_to_remove": client_set_headers,
} if allow

result := {
	"allowed": false,
	"http_status": 403,
	"headers": {"x-hexr-decision-id": decision_id, "content-type": "application/json"},
	"body": json.marshal({"error": "forbidden", "decision_id": decision_id, "reasons": reasons}),
} if not allow
