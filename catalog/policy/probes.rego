# Kubernetes knows when a container is ready and when it is stuck.
package main

import rego.v1

deny contains msg if {
	some c in serving
	some probe in ["readinessProbe", "livenessProbe"]
	not c[probe]
	msg := sprintf("%s: container %s has no %s", [name, c.name, probe])
}
