# Each default rule denies a manifest crafted to break it, and a manifest
# that keeps every rule passes. Run with `paved check --catalog .`.
package main

import rego.v1

good_container := {
	"name": "app",
	"image": "ghcr.io/acme/orders:0123abc",
	"securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true},
	"resources": {
		"requests": {"cpu": "100m", "memory": "128Mi"},
		"limits": {"cpu": "500m", "memory": "256Mi"},
	},
	"readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
}

deployment(container) := {
	"kind": "Deployment",
	"metadata": {"name": "orders"},
	"spec": {"template": {"spec": {"containers": [container]}}},
}

# `c` with `key` set to `value`, replaced whole (object.union would merge).
with_field(c, key, value) := object.union(object.remove(c, [key]), {key: value})

denied(container) := result if {
	result := deny with input as deployment(container)
}

test_a_good_deployment_passes if {
	count(denied(good_container)) == 0
}

test_a_request_is_not_a_manifest if {
	count(deny) == 0 with input as {"kind": "request", "name": "orders"}
}

test_privileged_is_denied if {
	c := with_field(good_container, "securityContext", {"allowPrivilegeEscalation": false, "runAsNonRoot": true, "privileged": true})
	denied(c) == {"Deployment orders: container app is privileged"}
}

test_privilege_escalation_is_denied if {
	c := with_field(good_container, "securityContext", {"runAsNonRoot": true})
	denied(c) == {"Deployment orders: container app must set securityContext.allowPrivilegeEscalation: false"}
}

test_root_is_denied if {
	c := with_field(good_container, "securityContext", {"allowPrivilegeEscalation": false})
	denied(c) == {"Deployment orders: container app must run as non-root (securityContext.runAsNonRoot: true)"}
}

test_non_root_may_be_said_by_the_pod if {
	c := with_field(good_container, "securityContext", {"allowPrivilegeEscalation": false})
	d := object.union(deployment(c), {"spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": true}}}}})
	count(deny) == 0 with input as d
}

test_missing_limits_are_denied if {
	c := with_field(good_container, "resources", {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m"}})
	denied(c) == {"Deployment orders: container app has no limits.memory"}
}

test_latest_is_denied if {
	c := with_field(good_container, "image", "ghcr.io/acme/orders:latest")
	denied(c) == {"Deployment orders: container app runs ghcr.io/acme/orders:latest: pin a tag, not latest"}
}

test_an_untagged_image_is_denied if {
	c := with_field(good_container, "image", "registry.acme.dev:5000/orders")
	denied(c) == {"Deployment orders: container app runs registry.acme.dev:5000/orders without a tag"}
}

test_a_digest_is_a_pin if {
	c := with_field(good_container, "image", "ghcr.io/acme/orders@sha256:00")
	count(denied(c)) == 0
}

test_a_missing_probe_is_denied if {
	c := object.remove(good_container, ["livenessProbe"])
	denied(c) == {"Deployment orders: container app has no livenessProbe"}
}

change(to, role) := {
	"kind": "change",
	"command": "scale",
	"service": "orders",
	"environment": "dev",
	"previous": null,
	"review": false,
	"limits": {"replicas": {"default": 1, "max": 3}},
	"from": {"tag": "a1", "replicas": 1},
	"to": to,
	"actor": {"login": "writer", "role": role},
	"environments": {"dev": {"tag": "a1", "replicas": 1}, "staging": null, "prod": null},
	"history": {"dev": ["a1"], "staging": [], "prod": []},
}

test_a_writer_may_not_scale_past_the_cap if {
	deny == {"orders in dev may run at most 3 replicas; 4 needs an admin"} with input as change({"tag": "a1", "replicas": 4}, "write")
}

test_within_the_cap_or_as_an_admin_is_fine if {
	count(deny) == 0 with input as change({"tag": "a1", "replicas": 3}, "write")
	count(deny) == 0 with input as change({"tag": "a1", "replicas": 9}, "admin")
}

prod_change(to) := object.union(change(to, "admin"), {
	"command": "rollback",
	"environment": "prod",
	"previous": "staging",
	"review": true,
	"limits": {"replicas": {"default": 3, "max": 10}},
	"from": {"tag": "b2", "replicas": 3},
	"environments": {"dev": {"tag": "c3", "replicas": 1}, "staging": {"tag": "b2", "replicas": 2}, "prod": {"tag": "a1", "replicas": 3}},
})

test_prod_runs_only_what_staging_runs if {
	deny == {"orders may run in prod only what runs in staging now: `c3` does not"} with input as prod_change({"tag": "c3", "replicas": 3})
	count(deny) == 0 with input as prod_change({"tag": "b2", "replicas": 3})
}

test_scaling_prod_keeps_its_image if {
	c := object.union(prod_change({"tag": "a1", "replicas": 5}), {"from": {"tag": "a1", "replicas": 3}})
	count(deny) == 0 with input as c
}
