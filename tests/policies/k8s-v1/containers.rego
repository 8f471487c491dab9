package main

import rego.v1

containers contains c if some c in input.spec.template.spec.containers

deny contains msg if {
	some c in containers
	not c.resources.limits.memory
	msg := sprintf("container %s has no memory limit", [c.name])
}

violation contains {"msg": msg, "details": {"container": c.name}} if {
	some c in containers
	c.securityContext.privileged == true
	msg := sprintf("container %s is privileged", [c.name])
}

violation contains msg if {
	some c in containers
	c.securityContext.allowPrivilegeEscalation != false
	msg := sprintf("container %s may escalate its privileges", [c.name])
}

deny contains msg if {
	input.kind == "Deployment"
	not probed
	msg := "every container needs a readiness probe"
}

probed if {
	every c in containers {
		c.readinessProbe
	}
}

warn contains msg if {
	count(containers) > 2
	msg := sprintf("%d containers in one pod", [count(containers)])
}

replicas := object.get(input.spec, "replicas", 1)

warn contains msg if {
	input.kind == "Deployment"
	replicas > 5
	msg := sprintf("%d replicas: is that on purpose?", [replicas])
}
