# Hexr authorization policy: may this agent role call this cloud service action now?
#
# Contract (DESIGN.md): data.hexr.authz.decision = {"allow": bool, "reasons": [string]}; every deny
# carries at least one reason. data.hexr.authz.allow stays valid for the seed's simple policies.
#
# Time and rate are facts the sidecar puts in input (input.timestamp, input.rate), never
# time.now_ns() or data.audit_log: evaluation is deterministic, testable, and runs in the WASM target.
# (time.parse_rfc3339_ns and time.clock are not native WASM builtins; the Hexr engine supplies them.)
package hexr.authz

# Role -> service -> actions the role may perform ("*" = every classified action of that service).
# Action names are the ones the sidecar's service catalog produces: the cloud's own permission names
# (AWS IAM actions such as s3:GetObject, Google IAM permissions such as bigquery.jobs.create, Azure data
# actions); LLM providers keep their SDK call paths.
#
# A request needs every permission in input.actions (the primary input.action first): a CopyObject needs
# s3:GetObject on input.resource.copy_source besides s3:PutObject, an upload with x-amz-acl needs
# s3:PutObjectAcl too. A request the catalog could not classify precisely has action "unknown", which no
# grant covers, not even "*".
grants := {
	"researcher": {
		"gcp_bigquery": {"*"},
		"aws_s3": s3_read_actions,
		"openai": llm_actions,
		"anthropic": llm_actions,
	},
	"writer": {
		"aws_s3": {"s3:PutObject"},
		"openai": llm_actions,
		"anthropic": llm_actions,
	},
	# Editors have no cloud access: a known role with no grants.
	"editor": {},
}

# LLM calls; prompts and responses are scanned by the ext_proc guard on these routes.
llm_actions := {"chat.completions.create", "responses.create", "embeddings.create", "messages.create"}

# GetObject covers HeadObject and SelectObjectContent; ListBucket covers HeadBucket (IAM's own mapping).
s3_read_actions := {"s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets"}

# Roles restricted to working hours, in UTC, as [from, to) whole hours.
business_hours := {"researcher": {"from": 8, "to": 18}}

# Calls per agent per minute; data.hexr.limits.calls_per_minute overrides the default.
default calls_per_minute_limit := 100

calls_per_minute_limit := n if {
	n := data.hexr.limits.calls_per_minute
	is_number(n)
}

default allow := false

allow := decision.allow

# An allowed S3 call also names what the credential injected for it may touch: the buckets the request
# names (the bucket ARN for bucket operations, its objects for object operations). The sidecar turns this
# into an AWS session policy, so the short-lived credential works for exactly this call's actions on
# exactly these buckets. Bucket granularity keeps one cached credential per agent and bucket, not one per
# object key.
# An inbound A2A call (input.a2a present) is decided by the agent-to-agent rules alone (a2a.rego).
decision := a2a_decision if {
	a2a_present
} else := {"allow": true, "reasons": reasons, "resources": s3_resources} if {
	allowed
	input.service == "aws_s3"
	count(s3_resources) > 0
} else := {"allow": allowed, "reasons": reasons}

s3_resources := sort([arn |
	some b in request_buckets
	some arn in [sprintf("arn:aws:s3:::%s", [b]), sprintf("arn:aws:s3:::%s/*", [b])]
])

# Every bucket the request touches: its own and, for a copy, the source's.
request_buckets contains input.resource.bucket if is_string(input.resource.bucket)

request_buckets contains a.resource.bucket if {
	some a in input.actions
	is_string(a.resource.bucket)
}

# Buckets a role may use at all, where it is restricted (data.hexr.s3_buckets overrides).
default s3_buckets := {"writer": ["drafts"]}

s3_buckets := b if {
	b := data.hexr.s3_buckets
	is_object(b)
}

default allowed := false

allowed if {
	granted
	count(deny) == 0
}

# A deny is never silent: when no specific rule explains it, say so.
reasons := sort(deny) if {
	count(deny) > 0
} else := [] if {
	granted
} else := ["denied by policy"]

# Every permission the request needs: input.action and each input.actions[_].action.
required contains input.action if is_string(input.action)

required contains a.action if {
	some a in input.actions
	is_string(a.action)
}

action_granted(action) if {
	action != "unknown"
	some g in grants[input.role][input.service]
	g in {"*", action}
}

granted if {
	count(required) > 0
	well_formed_actions
	every action in required {
		action_granted(action)
	}
}

# input.actions, when present, is a list of {"action": string, "resource": object}.
default well_formed_actions := true

well_formed_actions := false if {
	not is_array(input.actions)
	input.actions
}

well_formed_actions := false if {
	some a in input.actions
	not action_entry(a)
}

action_entry(a) if is_string(a.action)

known_service if {
	is_string(input.service)
	not input.service in {"", "unknown"}
}

# The hour of the request (UTC), from the RFC 3339 timestamp the sidecar supplies.
request_hour := time.clock(time.parse_rfc3339_ns(input.timestamp))[0]

within_hours(hour, hours) if {
	hour >= hours.from
	hour < hours.to
}

deny contains "unknown service" if not known_service

# Helper rules, not `not is_string(input.x)`: a builtin call on an undefined ref is undefined, and
# OPA binds the ref outside the negation, so `not` would never fire for a missing field.
has_role if is_string(input.role)

has_action if is_string(input.action)

has_rate if is_number(input.rate.agent_calls_last_minute)

deny contains "missing role" if not has_role

deny contains sprintf("unknown role %s", [input.role]) if {
	is_string(input.role)
	not grants[input.role]
}

deny contains sprintf("role %s may not use %s", [input.role, input.service]) if {
	known_service
	role_grants := grants[input.role]
	not role_grants[input.service]
}

deny contains "missing action" if {
	known_service
	not has_action
}

deny contains sprintf("role %s may not perform %s on %s", [input.role, action, input.service]) if {
	known_service
	actions := grants[input.role][input.service]
	not "*" in actions
	some action in required
	action != "unknown"
	not action in actions
}

deny contains sprintf("unclassified request to %s (action unknown)", [input.service]) if {
	known_service
	"unknown" in required
}

deny contains sprintf("role %s may not use bucket %s", [input.role, b]) if {
	input.service == "aws_s3"
	some b in request_buckets
	not b in s3_buckets[input.role]
	s3_buckets[input.role]
}

deny contains "malformed input.actions" if not well_formed_actions

deny contains "outside business hours" if {
	hours := business_hours[input.role]
	hour := request_hour
	not within_hours(hour, hours)
}

deny contains "invalid timestamp" if {
	business_hours[input.role]
	not request_hour
}

deny contains sprintf("rate limit exceeded: %d calls in the last minute (limit %d)", [calls, calls_per_minute_limit]) if {
	calls := input.rate.agent_calls_last_minute
	is_number(calls)
	calls > calls_per_minute_limit
}

deny contains "missing rate.agent_calls_last_minute" if not has_rate
