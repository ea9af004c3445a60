# Decisions of the reference policy, case for case with policies/authz_test.rego's role rules.
# Run: opa test bench/policies/opa-envoy
package envoy.authz_test

# opa-envoy-plugin v0.70 embeds OPA 0.70, whose default is Rego v0: opt in to v1 keywords.
import rego.v1

import data.envoy.authz

# 2026-01-15T10:30:00Z and 2026-01-15T22:30:00Z in nanoseconds
day := 1768473000000000000

night := 1768516200000000000

check(principal, method, host, path) := check_with(principal, method, host, path, {})

check_with(principal, method, host, path, headers) := {"attributes": {
	"source": {"principal": principal},
	"request": {"http": {"method": method, "host": host, "path": path, "headers": object.union({"x-hexr-role": "admin"}, headers)}},
}}

writer := "spiffe://hexr.cloud/agent/acme-corp/content-crew/writer"

researcher := "spiffe://hexr.cloud/agent/acme-corp/content-crew/researcher"

editor := "spiffe://hexr.cloud/agent/acme-corp/content-crew/editor"

allowed(req, now) if {
	r := authz.result with input as req with time.now_ns as now
	r.allowed == true
	r.headers["x-hexr-decision-id"]
}

denied(req, now, reasons) if {
	r := authz.result with input as req with time.now_ns as now
	r.allowed == false
	r.http_status == 403
	json.unmarshal(r.body).reasons == reasons
}

test_writer_may_put_objects_at_any_hour if {
	allowed(check(writer, "PUT", "s3.amazonaws.com", "/bench-bucket/object.txt"), night)
}

test_writer_may_not_read_objects if {
	denied(
		check(writer, "GET", "s3.amazonaws.com", "/bench-bucket/object.txt"), day,
		["role writer may not perform s3:GetObject on aws_s3"],
	)
}

test_researcher_may_query_bigquery_in_hours if {
	allowed(check(researcher, "POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/queries"), day)
}

test_researcher_outside_hours if {
	denied(
		check(researcher, "POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/queries"), night,
		["outside business hours"],
	)
}

test_writer_may_not_use_bigquery if {
	denied(
		check(writer, "POST", "bigquery.googleapis.com", "/bigquery/v2/projects/p1/queries"), day,
		["role writer may not use gcp_bigquery"],
	)
}

test_editor_has_no_cloud_access if {
	denied(
		check(editor, "GET", "s3.amazonaws.com", "/bench-bucket/object.txt"), day,
		["role editor may not use aws_s3"],
	)
}

test_unknown_host if {
	denied(check(writer, "GET", "example.com", "/"), day, ["unknown service"])
}

test_foreign_trust_domain if {
	denied(
		check("spiffe://other.example/agent/a/b/writer", "PUT", "s3.amazonaws.com", "/b/k"), day,
		["no agent identity from the peer certificate"],
	)
}

test_client_set_hexr_headers_are_removed if {
	r := authz.result with input as check(writer, "PUT", "s3.amazonaws.com", "/b/k") with time.now_ns as day
	r.request_headers_to_remove == ["x-hexr-role"]
}

test_writer_copy_and_acl_writes_are_not_put_object if {
	denied(
		check_with(writer, "PUT", "s3.amazonaws.com", "/bench-bucket/object.txt", {"x-amz-copy-source": "other/k"}), day,
		["unclassified request to aws_s3 (action unknown)"],
	)
	denied(
		check(writer, "PUT", "s3.amazonaws.com", "/bench-bucket/object.txt?acl"), day,
		["unclassified request to aws_s3 (action unknown)"],
	)
}
