package hexr.authz_test

import data.hexr.authz

# The input the sidecar builds (DESIGN.md), for a researcher querying BigQuery mid-morning.
base := {
	"spiffe_id": "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher",
	"tenant": "acme-corp",
	"agent": "content-crew",
	"role": "researcher",
	"service": "gcp_bigquery",
	"action": "bigquery.jobs.create",
	"actions": [{"action": "bigquery.jobs.create", "resource": {"project": "p"}}],
	"resource": {"project": "p"},
	"timestamp": "2026-01-15T10:30:00Z",
	"request": {
		"method": "POST",
		"host": "bigquery.googleapis.com",
		"path": "/bigquery/v2/projects/p/queries",
		"headers": {"content-type": "application/json"},
	},
	"rate": {"agent_calls_last_minute": 12},
}

# Overriding "action" alone makes it the only required action, as the catalog would.
req(overrides) := object.union(object.union(base, {"actions": [{"action": overrides.action, "resource": {}}]}), overrides) if {
	overrides.action
	not overrides.actions
} else := object.union(base, overrides)

# An S3 request as the catalog classifies it: the primary action on resource, then the others.
s3_req(role, actions, resource) := {
	"role": role,
	"service": "aws_s3",
	"action": actions[0].action,
	"actions": actions,
	"resource": resource,
}

# Allowed with no reasons (an S3 allow also names its resources; see the scoping tests).
allowed(overrides) if {
	d := authz.decision with input as req(overrides)
	d.allow == true
	d.reasons == []
	authz.allow with input as req(overrides)
}

# Denied with exactly these reasons, and `allow` agrees.
denied(overrides, reasons) if {
	authz.decision == {"allow": false, "reasons": reasons} with input as req(overrides)
	not authz.allow with input as req(overrides)
}

# --- the seed's role matrix ---

test_researcher_bigquery_allowed if allowed({})

test_researcher_bigquery_any_action_allowed if {
	every action in {"bigquery.jobs.create", "bigquery.jobs.get", "bigquery.datasets.get", "bigquery.tables.list"} {
		allowed({"action": action})
	}
}

test_researcher_s3_read_actions_allowed if {
	every action in {"s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets"} {
		allowed({"service": "aws_s3", "action": action})
	}
}

test_researcher_s3_write_denied if {
	denied({"service": "aws_s3", "action": "s3:PutObject"}, ["role researcher may not perform s3:PutObject on aws_s3"])
	denied({"service": "aws_s3", "action": "s3:DeleteObject"}, ["role researcher may not perform s3:DeleteObject on aws_s3"])
}

test_researcher_other_service_denied if {
	denied({"service": "gcp_storage", "action": "storage.objects.get"}, ["role researcher may not use gcp_storage"])
	denied(
		{"service": "azure_blob", "action": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"},
		["role researcher may not use azure_blob"],
	)
}

test_writer_s3_put_allowed if allowed({"role": "writer", "service": "aws_s3", "action": "s3:PutObject"})

test_writer_s3_put_allowed_outside_business_hours if {
	allowed({"role": "writer", "service": "aws_s3", "action": "s3:PutObject", "timestamp": "2026-01-15T23:30:00Z"})
}

test_writer_s3_read_denied if {
	denied({"role": "writer", "service": "aws_s3", "action": "s3:GetObject"}, ["role writer may not perform s3:GetObject on aws_s3"])
}

test_writer_bigquery_denied if {
	denied({"role": "writer"}, ["role writer may not use gcp_bigquery"])
}

test_editor_has_no_cloud_access if {
	denied({"role": "editor"}, ["role editor may not use gcp_bigquery"])
	denied({"role": "editor", "service": "aws_s3", "action": "s3:GetObject"}, ["role editor may not use aws_s3"])
	denied({"role": "editor", "service": "aws_s3", "action": "s3:PutObject"}, ["role editor may not use aws_s3"])
}

# --- unknowns and missing facts: denied, and the reason says which ---

test_unknown_service_denied if {
	denied({"service": "unknown", "action": "get"}, ["unknown service"])
	denied({"service": ""}, ["unknown service"])
	denied({"service": 42}, ["unknown service"])
}

test_missing_service_denied if {
	authz.decision == {"allow": false, "reasons": ["unknown service"]} with input as object.remove(base, ["service"])
}

test_unknown_role_denied if denied({"role": "admin"}, ["unknown role admin"])

test_missing_role_denied if {
	authz.decision == {"allow": false, "reasons": ["missing role"]} with input as object.remove(base, ["role"])
}

test_missing_action_denied if {
	authz.decision == {"allow": false, "reasons": ["missing action"]} with input as object.remove(base, ["action", "actions"])
}

# --- every required action must be granted (issue #8: operations named the way IAM does) ---

put := {"action": "s3:PutObject", "resource": {"bucket": "drafts", "key": "post.md"}}

copy_source := {"bucket": "finance", "key": "q1.csv"}

test_writer_put_object_allowed_with_resource if {
	allowed(s3_req("writer", [put], put.resource))
}

test_writer_copy_object_denied_reads_the_source if {
	# CopyObject: s3:PutObject on the target plus s3:GetObject on the source
	dest := object.union(put.resource, {"copy_source": copy_source})
	denied(
		s3_req("writer", [{"action": "s3:PutObject", "resource": dest}, {"action": "s3:GetObject", "resource": copy_source}], dest),
		["role writer may not perform s3:GetObject on aws_s3", "role writer may not use bucket finance"],
	)
}

test_writer_put_under_a_foreign_kms_key_denied if {
	# SSE-KMS with a named key: kms:GenerateDataKey on that key as well
	key := {"kms_key": "arn:aws:kms:us-east-1:999999999999:key/k"}
	denied(
		s3_req("writer", [put, {"action": "kms:GenerateDataKey", "resource": key}], put.resource),
		["role writer may not perform kms:GenerateDataKey on aws_s3"],
	)
}

test_copy_object_allowed_when_reading_the_source_is_granted if {
	dest := object.union(put.resource, {"copy_source": copy_source})
	r := s3_req("writer", [{"action": "s3:PutObject", "resource": dest}, {"action": "s3:GetObject", "resource": copy_source}], dest)
	d := authz.decision with input as req(r)
		with authz.grants as {"writer": {"aws_s3": {"s3:PutObject", "s3:GetObject"}}}
		with data.hexr.s3_buckets as {"writer": ["drafts", "finance"]}
	d.allow == true
	d.reasons == []
}

test_writer_put_object_with_public_acl_denied if {
	denied(
		s3_req("writer", [put, {"action": "s3:PutObjectAcl", "resource": put.resource}], put.resource),
		["role writer may not perform s3:PutObjectAcl on aws_s3"],
	)
}

test_writer_subresource_writes_denied if {
	every action in {"s3:PutObjectAcl", "s3:PutObjectTagging", "s3:PutObjectRetention", "s3:RestoreObject"} {
		denied(
			s3_req("writer", [{"action": action, "resource": put.resource}], put.resource),
			[sprintf("role writer may not perform %s on aws_s3", [action])],
		)
	}
}

test_writer_select_object_content_is_a_read if {
	# SelectObjectContent is classified s3:GetObject
	denied(s3_req("writer", [{"action": "s3:GetObject", "resource": put.resource}], put.resource), ["role writer may not perform s3:GetObject on aws_s3"])
}

test_researcher_bucket_acl_and_policy_are_not_list_bucket if {
	bucket := {"bucket": "reports"}
	denied(s3_req("researcher", [{"action": "s3:GetBucketAcl", "resource": bucket}], bucket), ["role researcher may not perform s3:GetBucketAcl on aws_s3"])
	denied(s3_req("researcher", [{"action": "s3:GetBucketPolicy", "resource": bucket}], bucket), ["role researcher may not perform s3:GetBucketPolicy on aws_s3"])
	allowed(s3_req("researcher", [{"action": "s3:ListBucket", "resource": bucket}], bucket))
}

test_unknown_action_denied_even_with_a_wildcard_grant if {
	denied({"action": "unknown"}, ["unclassified request to gcp_bigquery (action unknown)"])
	denied({"role": "writer", "service": "aws_s3", "action": "unknown"}, ["unclassified request to aws_s3 (action unknown)"])
}

test_actions_must_cover_the_primary_action if {
	# an empty or partial actions list never drops the primary action
	denied({"role": "writer", "service": "aws_s3", "action": "s3:GetObject", "actions": []}, ["role writer may not perform s3:GetObject on aws_s3"])
}

test_malformed_actions_denied if {
	denied({"role": "writer", "service": "aws_s3", "action": "s3:PutObject", "actions": [{"resource": {}}]}, ["malformed input.actions"])
	denied({"role": "writer", "service": "aws_s3", "action": "s3:PutObject", "actions": "s3:PutObject"}, ["malformed input.actions"])
}

test_input_without_actions_uses_action if {
	authz.decision.allow with input as object.remove(req({"role": "writer", "service": "aws_s3", "action": "s3:PutObject"}), ["actions"])
}

# --- business hours: researchers only 08:00 <= hour < 18:00 UTC ---

test_business_hours_boundaries if {
	denied({"timestamp": "2026-01-15T07:59:59Z"}, ["outside business hours"])
	allowed({"timestamp": "2026-01-15T08:00:00Z"})
	allowed({"timestamp": "2026-01-15T17:59:59Z"})
	denied({"timestamp": "2026-01-15T18:00:00Z"}, ["outside business hours"])
	denied({"timestamp": "2026-01-15T00:00:00Z"}, ["outside business hours"])
}

test_business_hours_use_utc_not_the_offset if {
	# 09:30+02:00 is 07:30 UTC; 19:30+02:00 is 17:30 UTC
	denied({"timestamp": "2026-01-15T09:30:00+02:00"}, ["outside business hours"])
	allowed({"timestamp": "2026-01-15T19:30:00+02:00"})
	allowed({"timestamp": "2026-01-15T08:00:00.5Z"})
}

test_invalid_timestamp_denied if {
	denied({"timestamp": "yesterday"}, ["invalid timestamp"])
	denied({"timestamp": 1768473000}, ["invalid timestamp"])
	authz.decision == {"allow": false, "reasons": ["invalid timestamp"]} with input as object.remove(base, ["timestamp"])
}

# --- rate limit: at most calls_per_minute calls (this one included) per agent per minute ---

test_rate_limit_boundary if {
	allowed({"rate": {"agent_calls_last_minute": 100}})
	denied({"rate": {"agent_calls_last_minute": 101}}, ["rate limit exceeded: 101 calls in the last minute (limit 100)"])
}

test_rate_limit_applies_to_every_role if {
	denied(
		{"role": "writer", "service": "aws_s3", "action": "s3:PutObject", "rate": {"agent_calls_last_minute": 250}},
		["rate limit exceeded: 250 calls in the last minute (limit 100)"],
	)
}

test_rate_limit_from_data if {
	authz.decision == {"allow": false, "reasons": ["rate limit exceeded: 6 calls in the last minute (limit 5)"]} with input as req({"rate": {"agent_calls_last_minute": 6}})
		with data.hexr.limits.calls_per_minute as 5
	authz.decision.allow with input as req({"rate": {"agent_calls_last_minute": 5}})
		with data.hexr.limits.calls_per_minute as 5
}

test_rate_limit_default_without_data if {
	authz.calls_per_minute_limit == 100 with data.hexr.limits as {}
	authz.calls_per_minute_limit == 100 with data.hexr.limits.calls_per_minute as "lots"
}

test_missing_rate_denied if {
	denied({"rate": {"agent_calls_last_minute": "12"}}, ["missing rate.agent_calls_last_minute"])
	authz.decision == {"allow": false, "reasons": ["missing rate.agent_calls_last_minute"]} with input as object.remove(base, ["rate"])
}

# --- every reason at once, sorted, and no deny is ever silent ---

test_all_reasons_reported_sorted if {
	denied(
		{"role": "researcher", "service": "aws_s3", "action": "s3:PutObject", "timestamp": "2026-01-15T20:00:00Z", "rate": {"agent_calls_last_minute": 300}},
		[
			"outside business hours",
			"rate limit exceeded: 300 calls in the last minute (limit 100)",
			"role researcher may not perform s3:PutObject on aws_s3",
		],
	)
}

test_empty_input_denied_with_reasons if {
	d := authz.decision with input as {}
	d.allow == false
	count(d.reasons) > 0
}

test_every_deny_explains_itself if {
	cases := [
		{"role": "writer"},
		{"role": "editor"},
		{"role": "admin"},
		{"service": "unknown"},
		{"timestamp": "2026-01-15T03:00:00Z"},
		{"rate": {"agent_calls_last_minute": 1000}},
		{"service": "aws_s3", "action": "s3:DeleteBucket"},
	]
	every c in cases {
		d := authz.decision with input as req(c)
		d.allow == false
		count(d.reasons) > 0
	}
}

test_writer_may_call_llms if allowed({"role": "writer", "service": "openai", "action": "chat.completions.create"})

test_researcher_may_call_anthropic if allowed({"service": "anthropic", "action": "messages.create"})

test_editor_may_not_call_llms if denied(
	{"role": "editor", "service": "anthropic", "action": "messages.create"},
	["role editor may not use anthropic"],
)

# --- credential scope: an allowed S3 call names its buckets; restricted roles keep to theirs ---

test_writer_put_names_exactly_its_bucket if {
	d := authz.decision with input as req(s3_req("writer", [put], put.resource))
	d == {"allow": true, "reasons": [], "resources": ["arn:aws:s3:::drafts", "arn:aws:s3:::drafts/*"]}
}

test_copy_scopes_both_buckets if {
	dest := object.union(put.resource, {"copy_source": copy_source})
	r := s3_req("writer", [{"action": "s3:PutObject", "resource": dest}, {"action": "s3:GetObject", "resource": copy_source}], dest)
	d := authz.decision with input as req(r)
		with authz.grants as {"writer": {"aws_s3": {"s3:PutObject", "s3:GetObject"}}}
		with data.hexr.s3_buckets as {"writer": ["drafts", "finance"]}
	d.resources == ["arn:aws:s3:::drafts", "arn:aws:s3:::drafts/*", "arn:aws:s3:::finance", "arn:aws:s3:::finance/*"]
}

test_writer_other_bucket_denied if {
	other := {"bucket": "finance", "key": "q1.csv"}
	denied(s3_req("writer", [{"action": "s3:PutObject", "resource": other}], other), ["role writer may not use bucket finance"])
}

test_unrestricted_role_any_bucket if {
	b := {"bucket": "reports"}
	allowed(s3_req("researcher", [{"action": "s3:ListBucket", "resource": b}], b))
}

test_non_s3_decisions_name_no_resources if {
	d := authz.decision with input as req({})
	not d.resources
}
