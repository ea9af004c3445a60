# Hexr agent-to-agent policy: may this calling agent run this A2A operation on this agent?
#
# When input.a2a is present (an inbound A2A call, classified by the sidecar), these rules alone make
# data.hexr.authz.decision (see authz.rego); the cloud-service grants do not apply to inbound calls.
#
# input.a2a = {caller, target, method, task_id, context_id, version, binding, chain}: caller is the
# verified mTLS peer, target this pod's agent, both SPIFFE IDs spiffe://<td>/agent/<tenant>/<agent>/<role>
# (extra trailing segments allowed); method is the canonical v1.0 name; chain the verified delegation
# chain, oldest first, empty for a direct call. The top-level spiffe_id/tenant/agent/role describe the
# caller, as for outbound calls, and must agree with input.a2a.caller.
#
# Grants are data: data.hexr.a2a.grants (caller role -> target role -> methods) replaces the default
# below; tenants never cross unless data.hexr.a2a.tenant_grants (caller tenant -> target tenant ->
# methods) says so, and then the role grant must allow the method too.
package hexr.authz

# The seed's example: within a tenant a researcher may message a writer and follow its tasks, but not
# cancel them; a writer may hand drafts to an editor; nobody may message a researcher.
default a2a_default_grants := {
	"researcher": {"writer": ["SendMessage", "SendStreamingMessage", "GetTask", "SubscribeToTask"]},
	"writer": {"editor": ["SendMessage", "SendStreamingMessage", "GetTask", "SubscribeToTask"]},
}

a2a_grants := g if {
	g := data.hexr.a2a.grants
	is_object(g)
} else := a2a_default_grants

a2a_tenant_grants := g if {
	g := data.hexr.a2a.tenant_grants
	is_object(g)
} else := {}

# Methods any agent of the target's tenant may call (the agent card is a discovery document).
a2a_open_methods := m if {
	m := data.hexr.a2a.open_methods
	is_array(m)
} else := ["GetAgentCard"]

# Most agents a delegation chain may hold before the caller (data.hexr.a2a.max_chain overrides).
a2a_max_chain := n if {
	n := data.hexr.a2a.max_chain
	is_number(n)
} else := 3

a2a_methods := {
	"SendMessage", "SendStreamingMessage", "GetTask", "ListTasks", "CancelTask", "SubscribeToTask",
	"CreateTaskPushNotificationConfig", "GetTaskPushNotificationConfig", "ListTaskPushNotificationConfigs",
	"DeleteTaskPushNotificationConfig", "GetExtendedAgentCard", "GetAgentCard",
}

# --- the decision ---

a2a_present if input.a2a

a2a_present if input.a2a == false

a2a_decision := {"allow": count(a2a_deny) == 0, "reasons": a2a_reasons}

a2a_reasons := sort(a2a_deny) if count(a2a_deny) > 0

else := []

# --- SPIFFE IDs: spiffe://<td>/agent/<tenant>/<agent>/<role>[/...] ---

agent_id(s) := {"trust_domain": p[2], "tenant": p[4], "agent": p[5], "role": p[6]} if {
	is_string(s)
	startswith(s, "spiffe://")
	p := split(s, "/")
	count(p) >= 7
	p[3] == "agent"
	p[2] != ""
	p[4] != ""
	p[5] != ""
	p[6] != ""
}

a2a_caller := agent_id(input.a2a.caller)

a2a_target := agent_id(input.a2a.target)

a2a_method := input.a2a.method if is_string(input.a2a.method)

# --- what the call needs ---

a2a_role_allows(caller, target, method) if method in a2a_grants[caller.role][target.role]

a2a_tenant_allows(from_tenant, target, method) if from_tenant == target.tenant

a2a_tenant_allows(from_tenant, target, method) if method in a2a_tenant_grants[from_tenant][target.tenant]

a2a_open(method) if method in a2a_open_methods

# --- denials, each with a reason ---

# Helper rules, not `not is_string(input.a2a.x)`: OPA binds a missing ref outside the negation, so such
# a `not` would never fire (see authz.rego).
a2a_is_object if is_object(input.a2a)

a2a_has_caller if is_string(input.a2a.caller)

a2a_has_target if is_string(input.a2a.target)

a2a_has_chain if is_array(input.a2a.chain)

a2a_known_version if input.a2a.version in {"1.0", "0.3"}

a2a_known_binding if input.a2a.binding in {"jsonrpc", "rest", "grpc", "agent_card"}

a2a_known_method if a2a_method in a2a_methods

a2a_deny contains "malformed input.a2a" if not a2a_is_object

a2a_deny contains "missing a2a.caller" if {
	a2a_is_object
	not a2a_has_caller
}

a2a_deny contains "a2a.caller is not an agent SPIFFE ID" if {
	is_string(input.a2a.caller)
	not a2a_caller
}

a2a_deny contains "missing a2a.target" if {
	a2a_is_object
	not a2a_has_target
}

a2a_deny contains "a2a.target is not an agent SPIFFE ID" if {
	is_string(input.a2a.target)
	not a2a_target
}

a2a_deny contains "missing a2a.method" if {
	a2a_is_object
	not a2a_method
}

a2a_deny contains sprintf("unknown A2A method %s", [a2a_method]) if not a2a_known_method

a2a_deny contains "a2a.version must be 1.0 or 0.3" if {
	a2a_is_object
	not a2a_known_version
}

a2a_deny contains "a2a.binding must be jsonrpc, rest, grpc or agent_card" if {
	a2a_is_object
	not a2a_known_binding
}

# The top-level identity is the caller's: a disagreement means the input was built wrong.
a2a_deny contains "input.spiffe_id is not a2a.caller" if {
	is_string(input.a2a.caller)
	input.spiffe_id != input.a2a.caller
}

a2a_deny contains "input.spiffe_id is not a2a.caller" if {
	is_string(input.a2a.caller)
	not input.spiffe_id
}

a2a_deny contains sprintf("caller trust domain %s is not the target's (%s)", [c.trust_domain, t.trust_domain]) if {
	c := a2a_caller
	t := a2a_target
	c.trust_domain != t.trust_domain
}

a2a_deny contains sprintf("tenant %s may not %s in tenant %s", [c.tenant, m, t.tenant]) if {
	c := a2a_caller
	t := a2a_target
	m := a2a_method
	not a2a_tenant_allows(c.tenant, t, m)
}

a2a_deny contains sprintf("agent %s may not %s on %s", [c.role, m, t.role]) if {
	c := a2a_caller
	t := a2a_target
	m := a2a_method
	m in a2a_methods
	not a2a_open(m)
	not a2a_role_allows(c, t, m)
}

# --- the delegation chain ---

a2a_deny contains "missing a2a.chain" if {
	a2a_is_object
	not a2a_has_chain
}

a2a_deny contains sprintf("delegation chain of %d agents exceeds the limit of %d", [count(input.a2a.chain), a2a_max_chain]) if {
	is_array(input.a2a.chain)
	count(input.a2a.chain) > a2a_max_chain
}

a2a_deny contains sprintf("delegation chain entry %d is not an agent SPIFFE ID", [i]) if {
	some i, s in input.a2a.chain
	not agent_id(s)
}

# An agent of a tenant that may not reach the target's tenant anywhere in the chain: the call acts on
# its behalf, so it is refused as if that agent called directly.
a2a_deny contains sprintf("delegation chain entry %d is of tenant %s, outside tenant %s", [i, e.tenant, t.tenant]) if {
	t := a2a_target
	m := a2a_method
	some i, s in input.a2a.chain
	e := agent_id(s)
	not a2a_tenant_allows(e.tenant, t, m)
}

a2a_deny contains sprintf("delegation chain entry %d is of trust domain %s", [i, e.trust_domain]) if {
	t := a2a_target
	some i, s in input.a2a.chain
	e := agent_id(s)
	e.trust_domain != t.trust_domain
}

a2a_deny contains "delegation chain loops back to the target" if {
	input.a2a.target in input.a2a.chain
}

a2a_deny contains sprintf("rate limit exceeded: %d calls in the last minute (limit %d)", [calls, calls_per_minute_limit]) if {
	calls := input.rate.agent_calls_last_minute
	is_number(calls)
	calls > calls_per_minute_limit
}
