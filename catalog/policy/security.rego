# Containers run unprivileged, cannot gain privileges, and not as root.
package main

import rego.v1

deny contains msg if {
	some c in containers
	c.securityContext.privileged == true
	msg := sprintf("%s: container %s is privileged", [name, c.name])
}

deny contains msg if {
	some c in containers
	not c.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("%s: container %s must set securityContext.allowPrivilegeEscalation: false", [name, c.name])
}

deny contains msg if {
	some c in containers
	not non_root(c)
	msg := sprintf("%s: container %s must run as non-root (securityContext.runAsNonRoot: true)", [name, c.name])
}

# The container says so, or the pod does and the container does not say otherwise.
non_root(c) if c.securityContext.runAsNonRoot == true

non_root(c) if {
	pod_spec.securityContext.runAsNonRoot == true
	not c.securityContext.runAsNonRoot == false
}
