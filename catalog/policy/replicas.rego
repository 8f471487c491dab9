# A change stays within its environment's replica cap (paved.yaml's
# replicas.max), unless it goes through review or an admin makes it (by
# permission on the catalog, or a team in paved.yaml's admin_teams).
package main

import rego.v1

deny contains msg if {
	input.kind == "change"
	input.to.replicas > input.limits.replicas.max
	not input.review
	input.actor.role != "admin"
	msg := sprintf(
		"%s in %s may run at most %d replicas; %d needs an admin",
		[input.service, input.environment, input.limits.replicas.max, input.to.replicas],
	)
}
