package hexr.a2a_test

import data.hexr.authz

researcher := "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher"

writer := "spiffe://hexr.cloud/agent/acme-corp/content-crew/writer"

editor := "spiffe://hexr.cloud/agent/acme-corp/review-crew/editor"

planner := "spiffe://hexr.cloud/agent/acme-corp/content-crew/planner"

globex_researcher := "spiffe://hexr.cloud/agent/globex/crew/researcher"

# An inbound call from a researcher to a writer, as the sidecar builds it.
call(caller, target, method) := {
	"spiffe_id": caller,
	"tenant": split(caller, "/")[4],
	"agent": split(caller, "/")[5],
	"role": split(caller, "/")[6],
	"timestamp": "2026-01-15T10:30:00Z",
	"request": {"method": "POST", "host": "writer.acme", "path": "/", "headers": {}},
	"rate": {"agent_calls_last_minute": 3},
	"a2a": {
		"caller": caller,
		"target": target,
		"method": method,
		"version": "1.0",
		"binding": "jsonrpc",
		"chain": [],
	},
}

without(i, key) := object.union(object.remove(i, ["a2a"]), {"a2a": object.remove(i.a2a, [key])})

with_a2a(i, fields) := object.union(i, {"a2a": object.union(i.a2a, fields)})

a2a_allowed(i) if {
	authz.decision == {"allow": true, "reasons": []} with input as i
	authz.allow with input as i
}

a2a_denied(i, reasons) if {
	authz.decision == {"allow": false, "reasons": reasons} with input as i
	not authz.allow with input as i
}

# --- the seed's matrix: researcher -> writer ---

test_researcher_may_message_and_follow_a_writer if {
	every m in ["SendMessage", "SendStreamingMessage", "GetTask", "SubscribeToTask"] {
		a2a_allowed(call(researcher, writer, m))
	}
}

test_researcher_may_not_cancel_a_writers_task if {
	a2a_denied(call(researcher, writer, "CancelTask"), ["agent researcher may not CancelTask on writer"])
}

test_researcher_other_methods_on_writer_denied if {
	every m in ["ListTasks", "CreateTaskPushNotificationConfig", "DeleteTaskPushNotificationConfig", "GetExtendedAgentCard"] {
		a2a_denied(call(researcher, writer, m), [sprintf("agent researcher may not %s on writer", [m])])
	}
}

test_writer_may_not_message_a_researcher if {
	a2a_denied(call(writer, researcher, "SendMessage"), ["agent writer may not SendMessage on researcher"])
	a2a_denied(call(writer, researcher, "GetTask"), ["agent writer may not GetTask on researcher"])
}

test_writer_may_hand_to_editor if a2a_allowed(call(writer, editor, "SendMessage"))

test_editor_has_no_grants if {
	a2a_denied(call(editor, writer, "SendMessage"), ["agent editor may not SendMessage on writer"])
}

test_unknown_role_denied if {
	admin := "spiffe://hexr.cloud/agent/acme-corp/crew/admin"
	a2a_denied(call(admin, writer, "SendMessage"), ["agent admin may not SendMessage on writer"])
}

test_agent_card_open_within_the_tenant if {
	a2a_allowed(with_a2a(call(editor, researcher, "GetAgentCard"), {"binding": "agent_card"}))
}

test_same_answer_for_every_version_and_binding if {
	every v in ["1.0", "0.3"] {
		every b in ["jsonrpc", "rest", "grpc"] {
			a2a_allowed(with_a2a(call(researcher, writer, "GetTask"), {"version": v, "binding": b, "task_id": "t1"}))
			a2a_denied(with_a2a(call(researcher, writer, "CancelTask"), {"version": v, "binding": b}), ["agent researcher may not CancelTask on writer"])
		}
	}
}

test_sub_agent_ids_keep_their_role if {
	sub := "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher/worker-2"
	a2a_allowed(call(sub, writer, "SendMessage"))
}

# --- grants are data ---

test_grants_from_data if {
	i := call(researcher, writer, "CancelTask")
	authz.decision.allow with input as i with data.hexr.a2a.grants as {"researcher": {"writer": ["CancelTask"]}}
	d := authz.decision with input as call(researcher, writer, "SendMessage") with data.hexr.a2a.grants as {"researcher": {"writer": ["CancelTask"]}}
	d == {"allow": false, "reasons": ["agent researcher may not SendMessage on writer"]}
}

# --- tenants never cross unless a rule says so ---

test_cross_tenant_denied if {
	globex_writer := "spiffe://hexr.cloud/agent/globex/crew/writer"
	a2a_denied(call(researcher, globex_writer, "SendMessage"), ["tenant acme-corp may not SendMessage in tenant globex"])
	a2a_denied(call(globex_researcher, writer, "SendMessage"), ["tenant globex may not SendMessage in tenant acme-corp"])
}

test_cross_tenant_even_for_the_agent_card if {
	a2a_denied(call(globex_researcher, writer, "GetAgentCard"), ["tenant globex may not GetAgentCard in tenant acme-corp"])
}

test_cross_tenant_by_rule if {
	grants := {"globex": {"acme-corp": ["SendMessage"]}}
	authz.decision == {"allow": true, "reasons": []} with input as call(globex_researcher, writer, "SendMessage")
		with data.hexr.a2a.tenant_grants as grants

	# the tenant rule does not widen the role grant, and covers only its methods
	authz.decision == {"allow": false, "reasons": ["agent researcher may not CancelTask on writer", "tenant globex may not CancelTask in tenant acme-corp"]} with input as call(globex_researcher, writer, "CancelTask")
		with data.hexr.a2a.tenant_grants as grants
}

test_other_trust_domain_denied if {
	foreign := "spiffe://other.example/agent/acme-corp/content-crew/researcher"
	a2a_denied(call(foreign, writer, "SendMessage"), ["caller trust domain other.example is not the target's (hexr.cloud)"])
}

# --- delegation chains ---

test_chain_within_the_tenant_allowed if {
	a2a_allowed(with_a2a(call(researcher, writer, "SendMessage"), {"chain": [planner]}))
	a2a_allowed(with_a2a(call(researcher, writer, "SendMessage"), {"chain": [planner, planner, planner]}))
}

test_chain_depth_limit if {
	a2a_denied(
		with_a2a(call(researcher, writer, "SendMessage"), {"chain": [planner, planner, planner, planner]}),
		["delegation chain of 4 agents exceeds the limit of 3"],
	)
}

test_chain_depth_limit_from_data if {
	i := with_a2a(call(researcher, writer, "SendMessage"), {"chain": [planner, planner]})
	authz.decision == {"allow": false, "reasons": ["delegation chain of 2 agents exceeds the limit of 1"]} with input as i
		with data.hexr.a2a.max_chain as 1
	authz.decision.allow with input as i with data.hexr.a2a.max_chain as 2
}

test_foreign_tenant_anywhere_in_the_chain_denied if {
	a2a_denied(
		with_a2a(call(researcher, writer, "SendMessage"), {"chain": [globex_researcher, planner]}),
		["delegation chain entry 0 is of tenant globex, outside tenant acme-corp"],
	)
	a2a_denied(
		with_a2a(call(researcher, writer, "SendMessage"), {"chain": [planner, globex_researcher]}),
		["delegation chain entry 1 is of tenant globex, outside tenant acme-corp"],
	)
}

test_foreign_trust_domain_in_the_chain_denied if {
	a2a_denied(
		with_a2a(call(researcher, writer, "SendMessage"), {"chain": ["spiffe://other.example/agent/acme-corp/c/planner"]}),
		["delegation chain entry 0 is of trust domain other.example"],
	)
}

test_malformed_chain_entries_denied if {
	a2a_denied(
		with_a2a(call(researcher, writer, "SendMessage"), {"chain": ["spiffe://hexr.cloud/workload/x", 7]}),
		["delegation chain entry 0 is not an agent SPIFFE ID", "delegation chain entry 1 is not an agent SPIFFE ID"],
	)
}

test_chain_loop_denied if {
	a2a_denied(with_a2a(call(researcher, writer, "SendMessage"), {"chain": [writer]}), ["delegation chain loops back to the target"])
}

# --- missing or malformed facts: denied, and the reason says which ---

test_missing_caller_denied if {
	i := call(researcher, writer, "SendMessage")
	a2a_denied(without(i, "caller"), ["missing a2a.caller"])
}

test_missing_target_denied if {
	i := call(researcher, writer, "SendMessage")
	a2a_denied(without(i, "target"), ["missing a2a.target"])
}

test_missing_method_denied if {
	i := call(researcher, writer, "SendMessage")
	a2a_denied(without(i, "method"), ["missing a2a.method"])
}

test_missing_chain_denied if {
	i := call(researcher, writer, "SendMessage")
	a2a_denied(without(i, "chain"), ["missing a2a.chain"])
}

test_unknown_method_denied if {
	a2a_denied(call(researcher, writer, "message/send"), ["unknown A2A method message/send"])
}

test_missing_version_and_binding_denied if {
	a2a_denied(without(call(researcher, writer, "GetTask"), "version"), ["a2a.version must be 1.0 or 0.3"])
	a2a_denied(without(call(researcher, writer, "GetTask"), "binding"), ["a2a.binding must be jsonrpc, rest, grpc or agent_card"])
}

test_empty_a2a_lists_every_missing_fact if {
	a2a_denied({"a2a": {}}, [
		"a2a.binding must be jsonrpc, rest, grpc or agent_card",
		"a2a.version must be 1.0 or 0.3",
		"missing a2a.caller",
		"missing a2a.chain",
		"missing a2a.method",
		"missing a2a.target",
	])
}

test_bad_version_and_binding_denied if {
	a2a_denied(with_a2a(call(researcher, writer, "GetTask"), {"version": "2.0"}), ["a2a.version must be 1.0 or 0.3"])
	a2a_denied(with_a2a(call(researcher, writer, "GetTask"), {"binding": "websocket"}), ["a2a.binding must be jsonrpc, rest, grpc or agent_card"])
}

test_malformed_ids_denied if {
	a2a_denied(with_a2a(call(researcher, writer, "GetTask"), {"caller": "researcher"}), ["a2a.caller is not an agent SPIFFE ID", "input.spiffe_id is not a2a.caller"])
	a2a_denied(call(researcher, "spiffe://hexr.cloud/agent/acme-corp/writer", "GetTask"), ["a2a.target is not an agent SPIFFE ID"])
	a2a_denied(call(researcher, "spiffe://hexr.cloud/agent/acme-corp//writer", "GetTask"), ["a2a.target is not an agent SPIFFE ID"])
}

test_top_level_identity_must_be_the_caller if {
	i := object.union(call(researcher, writer, "SendMessage"), {"spiffe_id": editor})
	a2a_denied(i, ["input.spiffe_id is not a2a.caller"])
	a2a_denied(object.remove(call(researcher, writer, "SendMessage"), ["spiffe_id"]), ["input.spiffe_id is not a2a.caller"])
}

test_malformed_a2a_denied if {
	d := authz.decision with input as {"spiffe_id": researcher, "a2a": "SendMessage"}
	d == {"allow": false, "reasons": ["malformed input.a2a"]}
	e := authz.decision with input as {"a2a": null}
	e == {"allow": false, "reasons": ["malformed input.a2a"]}
	f := authz.decision with input as {"a2a": false}
	f == {"allow": false, "reasons": ["malformed input.a2a"]}
}

test_rate_limit_applies_to_a2a if {
	a2a_denied(
		object.union(call(researcher, writer, "SendMessage"), {"rate": {"agent_calls_last_minute": 101}}),
		["rate limit exceeded: 101 calls in the last minute (limit 100)"],
	)
	a2a_allowed(object.remove(call(researcher, writer, "SendMessage"), ["rate"]))
}

# --- A2A and the cloud grants stay apart ---

test_cloud_rules_do_not_judge_a2a_calls if {
	# no service/action, outside business hours: irrelevant to an inbound call
	a2a_allowed(object.union(call(researcher, writer, "SendMessage"), {"timestamp": "2026-01-15T23:00:00Z"}))
}

test_a2a_rules_do_not_judge_cloud_calls if {
	d := authz.decision with input as {
		"role": "writer", "service": "aws_s3", "action": "s3:PutObject",
		"actions": [{"action": "s3:PutObject", "resource": {"bucket": "drafts"}}],
		"resource": {"bucket": "drafts"}, "timestamp": "2026-01-15T10:30:00Z",
		"rate": {"agent_calls_last_minute": 1},
	}
	d.allow == true
}

test_every_a2a_deny_explains_itself if {
	cases := [
		call(writer, researcher, "SendMessage"),
		call(globex_researcher, writer, "GetTask"),
		with_a2a(call(researcher, writer, "GetTask"), {"chain": [planner, planner, planner, planner, planner]}),
		with_a2a(call(researcher, writer, "GetTask"), {"method": 7}),
		{"a2a": {}},
	]
	every c in cases {
		d := authz.decision with input as c
		d.allow == false
		count(d.reasons) > 0
	}
}
