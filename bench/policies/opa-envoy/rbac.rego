# The reference peer's policy for `opa-envoy-rbac`: the decisions of policies/authz.rego (the seed's role
# policy), expressed for opa-envoy-plugin's input — Envoy's CheckRequest as JSON:
#   input.attributes.source.principal   the SPIFFE ID Envoy read from the client certificate's URI SAN
#   input.attributes.request.http       method, host, path, headers
# Evaluated by the plugin's ext_authz gRPC server at path `envoy/authz/result` (a decision object).
#
# Same as the Hexr side: trust domain and agent-ID checks, the service catalog for the services the benchmark
# calls (S3 path style, BigQuery, OpenAI, Anthropic; any other host is "unknown service") with the same IAM
# action names (s3:PutObject, bigquery.jobs.create), role grants,
# business hours (UTC), an explained 403 with reasons, a decision id header, and client-set x-hexr-* /
# x-forwarded-client-cert headers removed. S3 requests with a query string or a copy-source / ACL header are
# "unknown" here (the Hexr catalog classifies their subresources; none of them is granted to a bench role, so
# the decisions agree). Not expressible here: the per-agent calls-per-minute counter
# (OPA keeps no request state), which the Hexr benchmark bundle sets high enough never to fire.
#
# The tables (catalog, grants, hours) are a data document, data.json beside this file, as OPA users keep
# them: data is stored once, while rule values — even literal ones — are rebuilt on every evaluation
# (measured with `opa eval --profile`: the grants table as a rule cost ~200–800 µs per decision).
package envoy.authz

# opa-envoy-plugin v0.70 embeds OPA 0.70, whose default is Rego v0: opt in to v1 keywords.
import rego.v1

tables := data.hexr_bench

# ---- identity: only from what Envoy authenticated ---------------------------------------------------

principal := input.attributes.source.principal

# "spiffe://td/agent/tenant/agent/role[/...]" → ["spiffe:", "", td, "agent", tenant, agent, role, ...]
id_parts := split(principal, "/")

identity := {"tenant": id_parts[4], "agent": id_parts[5], "role": id_parts[6]} if {
	startswith(principal, "spiffe://")
	id_parts[2] in tables.trust_domains
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

# S3 operations chosen by subresource or header: not classified by the reference (see the header comment)
s3_plain if {
	not contains(http_request.path, "?")
	not http_request.headers["x-amz-copy-source"]
	not http_request.headers["x-amz-acl"]
}

# ---- service catalog (hosts: exact, then S3's regional glob; paths: "/" globs) ------------------------

default service := "unknown"

service := tables.service_by_host[host]

service := "aws_s3" if {
	not tables.service_by_host[host]
	glob.match("s3.*.amazonaws.com", ["."], host)
}

# "/bucket/key/more" → ["bucket", "key", "more"]; "/" → [""]
segments := split(trim_prefix(path, "/"), "/")

default action := "unknown"

action := "s3:ListAllMyBuckets" if {
	service == "aws_s3"
	s3_plain
	method == "GET"
	path == "/"
}

action := tables.s3_bucket_actions[method] if {
	service == "aws_s3"
	s3_plain
	count(segments) == 1
	segments[0] != ""
}

action := tables.s3_object_actions[method] if {
	service == "aws_s3"
	s3_plain
	count(segments) >= 2
	segments[0] != ""
	segments[1] != ""
}

action := a if {
	service == "gcp_bigquery"
	some pattern, a in tables.bigquery_actions[method]
	glob.match(pattern, ["/"], path)
}

action := tables.llm_paths[service][path] if method == "POST"

# ---- decision: as in policies/authz.rego ------------------------------------------------------------

grants := tables.grants

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
	action != "unknown"
	not action in actions
}

deny contains sprintf("unclassified request to %s (action unknown)", [service]) if {
	service != "unknown"
	action == "unknown"
}

within_hours(hour, hours) if {
	hour >= hours.from
	hour < hours.to
}

deny contains "outside business hours" if {
	hours := tables.business_hours[role]
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
